package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime/quotedprintable"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
)

// buildMessage returns m as an RFC 5322 message from from (an address as
// net/mail formats it): a plain-text UTF-8 body in quoted-printable, the
// subject in RFC 2047 encoded words when it is not plain ASCII, and CRLF line
// endings throughout. m must have passed ValidateEmail.
func buildMessage(from, fromDomain string, m selo.Email, date time.Time) ([]byte, error) {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on supported platforms
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+fromDomain+">")
	header("From", from)
	header("To", m.To)
	header("Subject", encodeHeaderText(m.Subject))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	// Text mode: "\n" becomes a CRLF line break. Line ends are made "\n"
	// first (a lone CR is a line break too): the writer pairs a CR with the
	// next LF even when other bytes stand between them, which moved a line
	// break ("\r\a\n0" came out as "\n\a0\n"; found by FuzzBuildMessage).
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\r", "\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// encodedWordMax is the longest RFC 2047 encoded word (section 2).
const encodedWordMax = 75

// encodeHeaderText returns s as an unstructured header value: unchanged when
// it is printable ASCII that a reader could not mistake for an encoded word
// and that neither starts nor ends with a space,
// otherwise as RFC 2047 Q-encoded UTF-8 words, each on its own folded line so
// that no line grows past 78 characters.
func encodeHeaderText(s string) string {
	if isPlainHeaderText(s) {
		return s
	}
	const prefix, suffix = "=?utf-8?q?", "?="
	var words []string
	var w strings.Builder
	for _, r := range s {
		enc := qEncodeRune(r)
		if w.Len() > 0 && len(prefix)+w.Len()+len(enc)+len(suffix) > encodedWordMax {
			words = append(words, prefix+w.String()+suffix)
			w.Reset()
		}
		w.WriteString(enc)
	}
	if w.Len() > 0 || len(words) == 0 {
		words = append(words, prefix+w.String()+suffix)
	}
	return strings.Join(words, "\r\n ")
}

func isPlainHeaderText(s string) bool {
	// Readers trim the space around a header value; encoded, it survives.
	if len(s) > 78-len("Subject: ") || strings.Contains(s, "=?") || strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// qEncodeRune returns r in the Q encoding of an encoded word in unstructured
// text (RFC 2047 4.2 and 5(1)): letters and digits as they are, space as "_",
// everything else as =XX per UTF-8 byte. A whole rune is never split across
// two words (RFC 2047 5).
func qEncodeRune(r rune) string {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return string(r)
	case r == ' ':
		return "_"
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	var out strings.Builder
	for _, c := range buf[:n] {
		fmt.Fprintf(&out, "=%02X", c)
	}
	return out.String()
}
