//go:build !cgo

package pkcs11

import (
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
)

func TestOpenWithoutCgo(t *testing.T) {
	_, err := Open(Config{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", PIN: "1234"})
	if selo.ErrorCode(err) != selo.ENOTIMPLEMENTED || !strings.Contains(selo.ErrorMessage(err), "PKCS#11 support needs a cgo build") {
		t.Fatalf("Open without cgo: got %v", err)
	}
}
