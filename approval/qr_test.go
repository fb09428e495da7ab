package approval

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
)

// decodeQR reads the QR code in img with zbarimg (Debian zbar-tools), a
// decoder independent of the encoder. It skips loudly where zbarimg is
// missing and fails in CI, which installs it. (The pure-Go gozxing decoder
// was tried first and refused valid codes that zbar and phones read.)
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zbarimg (zbar-tools) is required in CI but was not found in PATH")
		}
		t.Skip("!!! SKIPPED: zbarimg not found in PATH; QR codes are NOT decoded on this machine (apt-get install zbar-tools) !!!")
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-q", "--raw", path).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v", err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

var qrTexts = []string{
	"otpauth://totp/Selo:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Selo&algorithm=SHA1&digits=6&period=30",
	"hello",
	strings.Repeat("selo-wallet://approve?", 40),
}

func TestQRPNGRoundTrip(t *testing.T) {
	for _, text := range qrTexts {
		for _, size := range []int{256, 333, 600} {
			data, err := QRPNG(text, size)
			if err != nil {
				t.Fatalf("QRPNG(%d bytes, %d): %v", len(text), size, err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
				t.Fatalf("image is %v, want %dx%d", b, size, size)
			}
			if got := decodeQR(t, img); got != text {
				t.Fatalf("decoded %q, want %q", got, text)
			}
		}
	}
}

func TestQRPNGRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		size int
	}{
		{"empty text", "", 256},
		{"zero size", "x", 0},
		{"negative size", "x", -5},
		{"huge size", "x", MaxQRSize + 1},
		{"smaller than the modules", "hello", 20},
		{"too long for any QR code", strings.Repeat("x", 5000), 4096},
	} {
		if _, err := QRPNG(tc.text, tc.size); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", tc.name, err)
		}
	}
}

// TestQRTerminalRoundTrip turns the half blocks back into modules, draws
// them and decodes the picture.
func TestQRTerminalRoundTrip(t *testing.T) {
	for _, text := range qrTexts {
		out := QRTerminal(text)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		width := len([]rune(lines[0]))
		const scale = 8
		img := image.NewGray(image.Rect(0, 0, width*scale, 2*len(lines)*scale))
		for y, line := range lines {
			runes := []rune(line)
			if len(runes) != width {
				t.Fatalf("line %d is %d wide, want %d", y, len(runes), width)
			}
			for x, r := range runes {
				var top, bottom bool // light?
				switch r {
				case '█':
					top, bottom = true, true
				case '▀':
					top = true
				case '▄':
					bottom = true
				case ' ':
				default:
					t.Fatalf("unexpected rune %q", r)
				}
				for dy := range scale {
					for dx := range scale {
						// The terminal draws light modules; the picture
						// shows them white, dark modules black.
						img.SetGray(x*scale+dx, 2*y*scale+dy, gray(top))
						img.SetGray(x*scale+dx, (2*y+1)*scale+dy, gray(bottom))
					}
				}
			}
		}
		if got := decodeQR(t, img); got != text {
			t.Fatalf("decoded %q, want %q", got, text)
		}
	}
	if QRTerminal("") != "" || QRTerminal(strings.Repeat("x", 5000)) != "" {
		t.Error("QRTerminal draws something for text it cannot encode")
	}
}

func gray(light bool) color.Gray {
	if light {
		return color.Gray{Y: 255}
	}
	return color.Gray{}
}

// TestQRPNGModules checks, without a decoder, that every module of the code
// is drawn as a whole square of pixels, centred, on a white margin.
func TestQRPNGModules(t *testing.T) {
	text := qrTexts[0]
	bitmap, err := qrBitmap(text)
	if err != nil {
		t.Fatal(err)
	}
	const size = 333
	data, err := QRPNG(text, size)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	n := len(bitmap)
	scale := size / n
	offset := (size - scale*n) / 2
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	for y := range size {
		for x := range size {
			mx, my := (x-offset)/scale, (y-offset)/scale
			inside := x >= offset && y >= offset && mx < n && my < n
			want := inside && bitmap[my][mx]
			if got := dark(x, y); got != want {
				t.Fatalf("pixel (%d,%d) dark = %v, want %v (module %d,%d, scale %d)", x, y, got, want, mx, my, scale)
			}
		}
	}
}
