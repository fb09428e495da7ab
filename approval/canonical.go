package approval

import (
	"encoding/binary"
	"net/url"
	"unicode"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
)

// canonical builds the unambiguous byte strings that wallets sign: every
// field is its length as a 4-byte big-endian integer followed by its bytes,
// and integers are 8 bytes big-endian, so no two different field lists give
// the same bytes. Wallets in other languages rebuild them from the layouts
// documented on the functions that use it.
type canonical struct{ b []byte }

func (c *canonical) bytes(p []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(p)))
	c.b = append(c.b, p...)
}

func (c *canonical) string(s string) { c.bytes([]byte(s)) }

func (c *canonical) uint32(n uint32) { c.b = binary.BigEndian.AppendUint32(c.b, n) }

func (c *canonical) int64(n int64) { c.b = binary.BigEndian.AppendUint64(c.b, uint64(n)) }

// Limits on what a wallet URI may carry.
const (
	maxURILength    = 8192
	maxURLLength    = 2048 // a wallet registration URL, in bytes
	maxIDLength     = 256
	maxNameRunes    = 64
	maxDescription  = 500 // bytes
	maxUnixSeconds  = 253402300799
	minWalletSecret = 16
	maxWalletSecret = 64
)

// validID reports whether s can be an enrollment, approval or credential ID:
// 1 to 256 bytes of printable ASCII without spaces.
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validText reports whether s is valid UTF-8 of at most maxBytes bytes
// without control or format characters (bidirectional overrides would let a
// name or description display as something else), the zero-width joiner of
// emoji sequences excepted, so that it prints as what it says.
func validText(s string, maxBytes int) bool {
	if len(s) > maxBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || (unicode.Is(unicode.Cf, r) && r != '\u200d') || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// uriQuery parses a wallet URI of the given scheme and host and returns its
// query, refusing anything but "scheme://host?query" and any parameter not
// in allowed. repeated names the one parameter that may occur more than once.
func uriQuery(s, scheme, host string, allowed []string, repeated string) (url.Values, error) {
	if len(s) > maxURILength {
		return nil, selo.Errorf(selo.EINVALID, "%s URI is longer than %d bytes", host, maxURILength)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != scheme || u.Host != host || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.Fragment != "" || u.RawFragment != "" {
		return nil, selo.Errorf(selo.EINVALID, "not a %s://%s URI", scheme, host)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "%s URI has a malformed query", host)
	}
	for name, values := range q {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			return nil, selo.Errorf(selo.EINVALID, "%s URI has an unknown parameter %q", host, truncate(name, 32))
		}
		if len(values) != 1 && name != repeated {
			return nil, selo.Errorf(selo.EINVALID, "%s URI has parameter %q more than once", host, name)
		}
	}
	for _, a := range allowed {
		if _, ok := q[a]; !ok {
			return nil, selo.Errorf(selo.EINVALID, "%s URI lacks parameter %q", host, a)
		}
	}
	if q.Get("v") != "1" {
		return nil, selo.Errorf(selo.EINVALID, "%s URI has unsupported version %q (want 1)", host, truncate(q.Get("v"), 8))
	}
	return q, nil
}

// truncate shortens untrusted input quoted in an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
