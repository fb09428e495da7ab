package notify

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
)

// Size limits of what Selo sends. They are far above what its own messages
// need, and low enough that a bug or a hostile input cannot fill a disk or a
// mail queue.
const (
	// MaxAddressLength is the longest e-mail address accepted (RFC 5321 4.5.3.1.3).
	MaxAddressLength = 254
	// MaxSubjectLength is the longest subject accepted, in bytes.
	MaxSubjectLength = 512
	// MaxEmailBodyLength is the longest e-mail body accepted, in bytes.
	MaxEmailBodyLength = 64 << 10
	// MaxSMSLength is the longest SMS text accepted, in bytes: about ten
	// concatenated segments.
	MaxSMSLength = 1600
)

// ValidateEmailAddress checks that addr is one bare e-mail address
// ("name@example.eu", no display name, no comments), ASCII, and free of
// anything that could inject a header or an SMTP command.
func ValidateEmailAddress(addr string) error {
	switch {
	case addr == "":
		return selo.Errorf(selo.EINVALID, "an e-mail address is required")
	case strings.ContainsAny(addr, "\r\n"):
		return selo.Errorf(selo.EINVALID, "an e-mail address must not contain a line break")
	case len(addr) > MaxAddressLength:
		return selo.Errorf(selo.EINVALID, "e-mail address is too long (%d bytes, at most %d)", len(addr), MaxAddressLength)
	}
	for _, r := range addr {
		if r > unicode.MaxASCII || r < ' ' || r == 0x7f {
			return selo.Errorf(selo.EINVALID, "e-mail address %q has a character outside printable ASCII (write an internationalized domain in its xn-- form)", addr)
		}
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Name != "" || parsed.Address != addr {
		return selo.Errorf(selo.EINVALID, "%q is not a plain e-mail address such as name@example.eu", addr)
	}
	local, domain, _ := strings.Cut(addr, "@")
	if local == "" || domain == "" || strings.HasPrefix(domain, "[") {
		return selo.Errorf(selo.EINVALID, "%q is not a plain e-mail address such as name@example.eu", addr)
	}
	return nil
}

// ValidatePhoneNumber checks that number is in E.164 form: "+", a country
// code that does not start with 0, and 7 to 15 digits in all, with no spaces.
func ValidatePhoneNumber(number string) error {
	digits, ok := strings.CutPrefix(number, "+")
	if !ok || len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return selo.Errorf(selo.EINVALID, "%q is not a phone number in E.164 form such as +351912345678", truncate(number, 32))
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return selo.Errorf(selo.EINVALID, "%q is not a phone number in E.164 form such as +351912345678", truncate(number, 32))
		}
	}
	return nil
}

// ValidateEmail checks a whole e-mail before it is sent or stored: the
// recipient's address, a subject on one line, a body of UTF-8 text, and
// their sizes.
func ValidateEmail(m selo.Email) error {
	if err := ValidateEmailAddress(m.To); err != nil {
		return err
	}
	switch {
	case strings.ContainsAny(m.Subject, "\r\n"):
		return selo.Errorf(selo.EINVALID, "an e-mail subject must not contain a line break")
	case len(m.Subject) > MaxSubjectLength:
		return selo.Errorf(selo.EINVALID, "e-mail subject is too long (%d bytes, at most %d)", len(m.Subject), MaxSubjectLength)
	case !utf8.ValidString(m.Subject):
		return selo.Errorf(selo.EINVALID, "e-mail subject is not valid UTF-8")
	case strings.IndexFunc(m.Subject, isControl) >= 0:
		return selo.Errorf(selo.EINVALID, "e-mail subject must not contain control characters")
	}
	return validateText("e-mail body", m.Body, MaxEmailBodyLength)
}

// ValidateSMS checks a text message before it is sent or stored.
func ValidateSMS(to, text string) error {
	if err := ValidatePhoneNumber(to); err != nil {
		return err
	}
	return validateText("SMS text", text, MaxSMSLength)
}

func validateText(what, text string, limit int) error {
	switch {
	case strings.TrimSpace(text) == "":
		return selo.Errorf(selo.EINVALID, "the %s is empty", what)
	case len(text) > limit:
		return selo.Errorf(selo.EINVALID, "the %s is too long (%d bytes, at most %d)", what, len(text), limit)
	case !utf8.ValidString(text):
		return selo.Errorf(selo.EINVALID, "the %s is not valid UTF-8", what)
	case strings.ContainsRune(text, 0):
		return selo.Errorf(selo.EINVALID, "the %s contains a NUL character", what)
	}
	return nil
}

// isControl reports the control characters a one-line header must not hold;
// a tab is allowed.
func isControl(r rune) bool {
	return r != '\t' && unicode.IsControl(r)
}

// truncate shortens s for an error message, so that a huge hostile input
// does not end up whole in a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
