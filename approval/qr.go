package approval

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/selo-qtsp/selo"
)

// MaxQRSize is the largest QR image QRPNG draws, in pixels a side.
const MaxQRSize = 4096

// qrBitmap encodes text with medium error correction (15% of the symbol may
// be lost) and returns its modules, quiet zone included: true is dark.
func qrBitmap(text string) ([][]bool, error) {
	if text == "" {
		return nil, selo.Errorf(selo.EINVALID, "a QR code needs some text to carry")
	}
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "text of %d bytes does not fit in a QR code: %v", len(text), err)
	}
	return q.Bitmap(), nil
}

// QRPNG returns a PNG image, size pixels a side, of a QR code that carries
// text: black modules on white, each module a whole number of pixels so
// that no module is blurred, the rest of the image white around the code's
// own 4-module quiet zone. A size too small to give each module a pixel, or
// above MaxQRSize, is EINVALID.
func QRPNG(text string, size int) ([]byte, error) {
	if size < 1 || size > MaxQRSize {
		return nil, selo.Errorf(selo.EINVALID, "a QR image is 1 to %d pixels a side, not %d", MaxQRSize, size)
	}
	bitmap, err := qrBitmap(text)
	if err != nil {
		return nil, err
	}
	n := len(bitmap)
	if size < n {
		return nil, selo.Errorf(selo.EINVALID, "a QR code of this text needs at least %d pixels a side, not %d", n, size)
	}
	scale := size / n
	offset := (size - scale*n) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y, row := range bitmap {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				start := img.PixOffset(offset+x*scale, offset+y*scale+dy)
				for dx := range scale {
					img.Pix[start+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode QR image: %w", err)
	}
	return buf.Bytes(), nil
}

// QRTerminal returns a QR code that carries text drawn with Unicode half
// blocks, two rows of modules per line, for `selo` commands to print. Light
// modules are drawn and dark ones left blank, which reads right on the usual
// light-on-dark terminal. It returns "" when text is empty or too long for a
// QR code.
func QRTerminal(text string) string {
	bitmap, err := qrBitmap(text)
	if err != nil {
		return ""
	}
	light := func(y, x int) bool { return y >= len(bitmap) || !bitmap[y][x] }
	var b strings.Builder
	for y := 0; y < len(bitmap); y += 2 {
		for x := range bitmap[y] {
			switch top, bottom := light(y, x), light(y+1, x); {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
