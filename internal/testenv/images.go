package testenv

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// testImage is a w × h gradient, so that each photo of a test differs.
func testImage(w, h int, tint uint8) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / max(w, 1)), G: uint8(y * 255 / max(h, 1)), B: tint, A: 255})
		}
	}
	return img
}

// JPEG returns a real w × h JPEG image, as a camera would send.
func JPEG(w, h int, tint uint8) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h, tint), &jpeg.Options{Quality: 80}); err != nil {
		panic(err) // encoding into memory cannot fail
	}
	return b.Bytes()
}

// PNG returns a real w × h PNG image.
func PNG(w, h int, tint uint8) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h, tint)); err != nil {
		panic(err)
	}
	return b.Bytes()
}
