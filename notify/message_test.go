package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// checkMessage parses raw as a reader would and checks that it carries m
// unchanged: headers, subject (decoded), body (decoded), line lengths.
func checkMessage(t testing.TB, raw []byte, m selo.Email, from string, date time.Time) {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > 998 {
			t.Fatalf("line %d is %d bytes long", i, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("line %d holds a bare CR or LF: %q", i, line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	h := msg.Header
	if got := h.Get("To"); got != m.To {
		t.Errorf("To %q, want %q", got, m.To)
	}
	if got := h.Get("From"); got != from {
		t.Errorf("From %q, want %q", got, from)
	}
	if d, err := h.Date(); err != nil || !d.Equal(date.Truncate(time.Second)) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, date)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.eu>") {
		t.Errorf("Message-ID %q", id)
	}
	for name, want := range map[string]string{
		"MIME-Version": "1.0", "Content-Type": "text/plain; charset=utf-8", "Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), subject, err, m.Subject)
	}
	if len(h["Subject"]) != 1 || len(h["To"]) != 1 || h.Get("Bcc") != "" {
		t.Errorf("headers injected: %v", h)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if got, want := normalizeLines(string(body)), normalizeLines(m.Body); strings.TrimSuffix(got, "\n") != strings.TrimSuffix(want, "\n") {
		t.Errorf("body decodes to %q, want %q", got, want)
	}
}

func normalizeLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func TestBuildMessage(t *testing.T) {
	date := time.Date(2026, 11, 24, 10, 15, 0, 0, time.FixedZone("WET", 0))
	tests := []struct {
		name string
		m    selo.Email
		// rawSubject, when set, is the Subject header as it must appear.
		rawSubject string
	}{
		{"ascii", selo.Email{To: "ana@example.eu", Subject: "Your order is ready", Body: "Order 42.\nCode: 123456\n"}, "Your order is ready"},
		{"portuguese", selo.Email{To: "ana@example.eu", Subject: "Encomenda pronta — código", Body: "Olá João,\r\no seu código é 123456.\n"}, ""},
		{"looks encoded", selo.Email{To: "ana@example.eu", Subject: "=?utf-8?q?fake?=", Body: "x"}, ""},
		{"long non-ascii", selo.Email{To: "ana@example.eu", Subject: strings.Repeat("ação ", 60), Body: "x"}, ""},
		{"long body line", selo.Email{To: "ana@example.eu", Subject: "s", Body: strings.Repeat("é", 2000) + "\n.\n..leading dots\n"}, ""},
		{"trailing spaces", selo.Email{To: "ana@example.eu", Subject: "s", Body: "line with spaces   \nnext"}, ""},
		{"empty subject", selo.Email{To: "ana@example.eu", Subject: "", Body: "x"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ValidateEmail(tt.m); err != nil {
				t.Fatal(err)
			}
			raw, err := buildMessage("Selo <noreply@example.eu>", "example.eu", tt.m, date)
			if err != nil {
				t.Fatal(err)
			}
			checkMessage(t, raw, tt.m, "Selo <noreply@example.eu>", date)
			if tt.rawSubject != "" && !bytes.Contains(raw, []byte("\r\nSubject: "+tt.rawSubject+"\r\n")) {
				t.Errorf("subject not sent as plain text:\n%s", raw)
			}
			if strings.ContainsFunc(tt.m.Subject, func(r rune) bool { return r > 127 }) && bytes.Contains(raw, []byte(tt.m.Subject)) {
				t.Errorf("non-ASCII subject sent raw")
			}
		})
	}
}

// FuzzBuildMessage checks that any e-mail ValidateEmail accepts becomes a
// message that parses back to the same recipient, subject and body, with no
// header injected.
func FuzzBuildMessage(f *testing.F) {
	f.Add("ana@example.eu", "Encomenda pronta — código", "Código: 123456\n")
	f.Add("a.b+c@example.eu", "=?utf-8?b?Zm9v?=", "\r\n.\r\n")
	f.Add("x@y", "Subject\twith tab", "line\rcr\n")
	f.Add("ana@example.eu", "hi\r\nBcc: eve@example.eu", "body")
	f.Add("ana@example.eu\r\nBcc: eve@example.eu", "s", "body")
	date := time.Date(2026, 11, 24, 10, 15, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, to, subject, body string) {
		m := selo.Email{To: to, Subject: subject, Body: body}
		if ValidateEmail(m) != nil {
			return
		}
		raw, err := buildMessage("noreply@example.eu", "example.eu", m, date)
		if err != nil {
			t.Fatal(err)
		}
		checkMessage(t, raw, m, "noreply@example.eu", date)
	})
}
