package cms_test

import (
	"testing"

	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/pki/cms"
)

// FuzzVerifyCMS feeds arbitrary bytes to the parser and verifier that
// `selo verify` runs on files users hand in: no panic, and anything that
// parses re-encodes and verifies without crashing.
func FuzzVerifyCMS(f *testing.F) {
	s := signtest.QuickSigner(f)
	for _, detached := range []bool{true, false} {
		sd, err := cms.Sign(s.Key, content, cms.Options{Certificate: s.Cert, Chain: s.Chain, Detached: detached})
		if err != nil {
			f.Fatal(err)
		}
		der, _ := sd.Bytes()
		f.Add(der)
	}
	f.Add([]byte{0x30, 0x80, 0x06, 0x09})
	roots := s.Roots()
	f.Fuzz(func(t *testing.T, der []byte) {
		sd, err := cms.Parse(der)
		if err != nil {
			return
		}
		if _, err := sd.Bytes(); err != nil {
			return
		}
		opts := cms.VerifyOptions{Roots: roots}
		if sd.Detached {
			opts.Content = content
		}
		sd.Verify(opts)
	})
}
