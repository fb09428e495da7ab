package registration_test

import (
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/registration"
)

// FuzzSniffImage: any bytes are either a JPEG or PNG whose header decodes
// within the pixel limit, or an EINVALID refusal; never a panic, never
// another type.
func FuzzSniffImage(f *testing.F) {
	f.Add(testenv.JPEG(4, 4, 0))
	f.Add(testenv.PNG(4, 4, 0))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xff\xff\xff\xff\xff\xff\xff\x08\x02\x00\x00\x00"))
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, err := registration.SniffImage(data, registration.MaxPhotoPixels)
		switch {
		case err != nil && selo.ErrorCode(err) != selo.EINVALID:
			t.Fatalf("refusal %v is not EINVALID", err)
		case err == nil && ct != "image/jpeg" && ct != "image/png":
			t.Fatalf("accepted as %q", ct)
		}
	})
}
