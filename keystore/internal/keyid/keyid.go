// Package keyid checks key IDs the same way for every key store, so an ID
// that works with the software store also works with an HSM and the other way
// round.
package keyid

import (
	"strings"

	"github.com/selo-qtsp/selo"
)

// MaxLength is the longest key ID, in bytes. The soft store hex-encodes IDs
// into file names and most file systems stop at 255 bytes per name.
const MaxLength = 120

// Check returns an EINVALID error unless id is 1 to MaxLength bytes of
// slash-separated segments made of ASCII letters, digits, '.', '_' and '-',
// with no empty, "." or ".." segment. IDs are not secret, so the message may
// quote them.
func Check(id string) error {
	if id == "" {
		return selo.Errorf(selo.EINVALID, "key ID is empty")
	}
	if len(id) > MaxLength {
		return selo.Errorf(selo.EINVALID, "key ID is longer than %d bytes", MaxLength)
	}
	for _, seg := range strings.Split(id, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return selo.Errorf(selo.EINVALID, "key ID %q has an empty, \".\" or \"..\" segment", id)
		}
		for i := 0; i < len(seg); i++ {
			if !allowed(seg[i]) {
				return selo.Errorf(selo.EINVALID, "key ID %q has a character outside A-Z a-z 0-9 . _ - /", id)
			}
		}
	}
	return nil
}

func allowed(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}
