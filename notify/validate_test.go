package notify_test

import (
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
)

func TestValidateEmailAddress(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"ana@example.eu", true},
		{"ana.silva+selo@mail.example.pt", true},
		{"x@localhost", true},
		{"", false},
		{"ana", false},
		{"@example.eu", false},
		{"ana@", false},
		{"Ana <ana@example.eu>", false},
		{"ana@example.eu (Ana)", false},
		{`"ana silva"@example.eu`, false},
		{"ana@example.eu, eve@example.eu", false},
		{"ana@[192.0.2.1]", false},
		{"ana@exämple.eu", false},
		{"ana@example.eu\r\nBcc: eve@example.eu", false},
		{"ana@example.eu\n", false},
		{"ana\x00@example.eu", false},
		{strings.Repeat("a", 250) + "@x.eu", false},
	}
	for _, tt := range tests {
		err := notify.ValidateEmailAddress(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateEmailAddress(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		if err != nil && selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("ValidateEmailAddress(%q): code %q", tt.addr, selo.ErrorCode(err))
		}
	}
}

func TestValidatePhoneNumber(t *testing.T) {
	tests := []struct {
		number string
		ok     bool
	}{
		{"+351912345678", true},
		{"+4915112345678", true},
		{"+6831234", true},
		{"+123456789012345", true},
		{"+1234567890123456", false},
		{"+123456", false},
		{"351912345678", false},
		{"+351 912 345 678", false},
		{"+351-912345678", false},
		{"+0351912345678", false},
		{"++351912345678", false},
		{"+٣٥١٩١٢٣٤٥٦٧٨", false},
		{"", false},
	}
	for _, tt := range tests {
		err := notify.ValidatePhoneNumber(tt.number)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePhoneNumber(%q) = %v, want ok=%v", tt.number, err, tt.ok)
		}
		if err != nil && !strings.Contains(selo.ErrorMessage(err), "E.164") {
			t.Errorf("ValidatePhoneNumber(%q): message %q does not say E.164", tt.number, selo.ErrorMessage(err))
		}
	}
}

// FuzzValidateAddresses checks that whatever the validators accept is safe to
// put in a header or an SMTP command: one line, no spaces, bounded.
func FuzzValidateAddresses(f *testing.F) {
	for _, s := range []string{"ana@example.eu", "+351912345678", "a@b\r\nRCPT TO:<eve@x>", "Ana <a@b.eu>", `"a\"b"@c`, "+0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if notify.ValidateEmailAddress(s) == nil {
			if strings.ContainsAny(s, "\r\n <>,;\x00") || len(s) > notify.MaxAddressLength || strings.Count(s, "@") < 1 {
				t.Fatalf("accepted e-mail address %q", s)
			}
		}
		if notify.ValidatePhoneNumber(s) == nil {
			if !strings.HasPrefix(s, "+") || len(s) > 16 || strings.Trim(s[1:], "0123456789") != "" {
				t.Fatalf("accepted phone number %q", s)
			}
		}
	})
}
