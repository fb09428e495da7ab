package signing_test

import (
	"crypto"
	"encoding/hex"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/signing"
)

// pssSHA256 is RSASSA-PSS-params for SHA-256, MGF1-SHA-256, salt 32.
const pssSHA256 = "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"

func TestParsePSSParams(t *testing.T) {
	der, _ := hex.DecodeString(pssSHA256)
	p, err := signing.ParsePSSParams(der)
	if err != nil || p.Hash != crypto.SHA256 || p.SaltLength != 32 {
		t.Fatalf("ParsePSSParams = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "3000", "30", pssSHA256 + "00"} {
		b, _ := hex.DecodeString(bad)
		if _, err := signing.ParsePSSParams(b); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("ParsePSSParams(%s) = %v, want EINVALID", bad, err)
		}
	}
}

func FuzzParsePSSParams(f *testing.F) {
	der, _ := hex.DecodeString(pssSHA256)
	f.Add(der)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := signing.ParsePSSParams(b)
		if err == nil && (p.SaltLength < 0 || p.SaltLength > 64 || !p.Hash.Available()) {
			t.Fatalf("accepted %x as %+v", b, p)
		}
	})
}
