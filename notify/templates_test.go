package notify_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
)

var allMessages = []string{notify.MessageOrderCreated, notify.MessageReady, notify.MessageEmailCode,
	notify.MessageSMSSignature, notify.MessageSMSAuthorizerRegister, notify.MessageSMSAuthorizerRenew,
	notify.MessageSMSRevoke, notify.MessageSMSFactorCode, notify.MessageFactorChanged, notify.MessageSMSFactorChanged,
	notify.MessageSMSSignInCode, notify.MessagePasswordReset, notify.MessageSMSPasswordReset,
	notify.MessageEmailAuthorizerRenew}

func data() map[string]any {
	return map[string]any{"Number": "SO-2026-AAAA", "AccessCode": "ACCESS123456", "Code": "987654", "Minutes": 5,
		"BaseURL": "https://ra.example.pt", "Delivery": "software", "Profile": "qualified-sign", "Renewal": "RENEWAL0123456789ABC",
		"Subject": "4F2A9C", "Name": "Ana Silva", "When": "2026-12-07 09:30 UTC", "Change": notify.ChangeWalletRegistered, "Factor": "phone",
		"Link": "https://ra.example.pt/account/reset/987654"}
}

// TestTemplatesEmbedded renders every message in Portuguese and English:
// each names its code, and the two languages differ.
func TestTemplatesEmbedded(t *testing.T) {
	tm := notify.DefaultTemplates()
	for _, name := range allMessages {
		var texts []string
		for _, lang := range []string{notify.LangPortuguese, notify.LangEnglish} {
			var text string
			if strings.HasPrefix(name, "sms-") {
				s, err := tm.SMS(name, lang, data())
				if err != nil || strings.Contains(s, "\n") {
					t.Fatalf("SMS %s/%s = %q, %v", lang, name, s, err)
				}
				text = s
			} else {
				m, err := tm.Email("ana@example.pt", name, []string{lang}, data())
				if err != nil || m.Subject == "" || strings.Contains(m.Subject, "\n") || strings.Contains(m.Body, "Subject:") || m.To != "ana@example.pt" {
					t.Fatalf("e-mail %s/%s = %+v, %v", lang, name, m, err)
				}
				text = m.Subject + "\n" + m.Body
			}
			switch name {
			case notify.MessageFactorChanged, notify.MessageSMSFactorChanged:
				// A notice carries no code; it names the factor.
				if !strings.Contains(text, `"phone"`) {
					t.Errorf("%s/%s names no factor:\n%s", lang, name, text)
				}
			default:
				if !strings.Contains(text, "987654") && !strings.Contains(text, "ACCESS123456") {
					t.Errorf("%s/%s names no code:\n%s", lang, name, text)
				}
			}
			texts = append(texts, text)
		}
		if texts[0] == texts[1] {
			t.Errorf("%s is the same in pt and en", name)
		}
	}
	// The ready e-mail gives the exact next step: the command and the server.
	m, err := tm.Email("ana@example.pt", notify.MessageReady, []string{"en"}, data())
	if err != nil || !strings.Contains(m.Body, "selo lift --server https://ra.example.pt --order SO-2026-AAAA") || strings.Contains(m.Body, "click Validate") {
		t.Errorf("ready e-mail:\n%s", m.Body)
	}
	// ... and the renewal command as selo lift new-code takes it, in both languages.
	for _, lang := range []string{"en", "pt"} {
		m, err := tm.Email("ana@example.pt", notify.MessageReady, []string{lang}, data())
		if err != nil || !strings.Contains(m.Body, "selo lift new-code --server https://ra.example.pt --order SO-2026-AAAA --renewal-code RENEWAL0123456789ABC") {
			t.Errorf("%s ready e-mail's renewal command:\n%s", lang, m.Body)
		}
	}
	// Portuguese first, then English, in one e-mail.
	m, err = tm.Email("ana@example.pt", notify.MessageReady, []string{"pt", "en"}, data())
	pt, en := strings.Index(m.Body, "O seu certificado está pronto"), strings.Index(m.Body, "Your certificate is ready")
	if err != nil || pt < 0 || en < pt || m.Subject != "O seu certificado está pronto: pedido SO-2026-AAAA / Your certificate is ready: order SO-2026-AAAA" {
		t.Errorf("bilingual ready e-mail %q:\n%s", m.Subject, m.Body)
	}
	if err := notify.ValidateEmail(m); err != nil {
		t.Errorf("bilingual e-mail does not validate: %v", err)
	}
}

func TestHolderLanguages(t *testing.T) {
	for _, tc := range []struct {
		lang, mobile string
		want         []string
	}{
		{"", "+351912345678", []string{"pt", "en"}},
		{"", "+34612345678", []string{"en"}},
		{"en", "+351912345678", []string{"en"}},
		{"pt", "+34612345678", []string{"pt"}},
	} {
		if got := notify.HolderLanguages(tc.lang, tc.mobile); !slices.Equal(got, tc.want) {
			t.Errorf("HolderLanguages(%q, %q) = %v, want %v", tc.lang, tc.mobile, got, tc.want)
		}
	}
	if notify.SMSLanguage("", "+351912345678") != "pt" || notify.SMSLanguage("", "+44700900000") != "en" {
		t.Error("SMSLanguage does not follow the mobile's country")
	}
}

// TestTemplatesOverride loads an operator's directory: a file replaces the
// embedded one, a new language falls back to English for what it lacks, and
// mistakes are refused when loading, naming the file.
func TestTemplatesOverride(t *testing.T) {
	write := func(dir, rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	write(dir, "pt/sms-signature.txt", "Banco Exemplo: código {{.Code}}, {{.Minutes}} min.\n")
	write(dir, "es/sms-signature.txt", "Código de firma {{.Code}} ({{.Minutes}} minutos).\n")
	tm, err := notify.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := tm.SMS(notify.MessageSMSSignature, "pt", data()); s != "Banco Exemplo: código 987654, 5 min." {
		t.Errorf("overridden pt SMS = %q", s)
	}
	if s, _ := tm.SMS(notify.MessageSMSSignature, "es", data()); !strings.HasPrefix(s, "Código de firma 987654") {
		t.Errorf("added es SMS = %q", s)
	}
	if m, _ := tm.Email("a@example.es", notify.MessageReady, []string{"es"}, data()); !strings.HasPrefix(m.Subject, "Your certificate is ready") {
		t.Errorf("es falls back to English for the ready e-mail: %q", m.Subject)
	}
	if !tm.HasLanguage("es") || tm.HasLanguage("fr") {
		t.Error("HasLanguage")
	}
	if m, _ := tm.Email("a@example.pt", notify.MessageReady, []string{"en"}, data()); !strings.Contains(m.Body, "selo lift") {
		t.Errorf("embedded en ready e-mail lost: %q", m.Body)
	}
	if tm, err := notify.LoadTemplates(filepath.Join(dir, "missing")); err != nil || tm == nil {
		t.Errorf("a missing directory: %v", err)
	}
	for _, tc := range []struct{ file, content, want string }{
		{"pt/ready-mail.txt", "Subject: x\n\ny", `no message "ready-mail"`},
		{"pt/ready.txt", "Subject: x\n\n{{.Numbr}}", "Numbr"},
		{"pt/ready.txt", "Subject: x\n\n{{.Number", "ready.txt"},
		{"pt/ready.txt", "Olá {{.Number}}", `starts with a "Subject: ...`},
		{"Portuguese/ready.txt", "Subject: x\n\ny", "not a two-letter language code"},
	} {
		bad := t.TempDir()
		write(bad, tc.file, tc.content)
		_, err := notify.LoadTemplates(bad)
		if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want EINVALID with %q", tc.file, tc.content, err, tc.want)
		}
	}
}

// TestFactorChangeNotices: each change a factor notice tells of has its own
// words in each language (a change the templates do not know would fall
// through to another's text).
func TestFactorChangeNotices(t *testing.T) {
	tm := notify.DefaultTemplates()
	changes := []string{notify.ChangeAuthenticatorAdded, notify.ChangeAuthenticatorRemoved, notify.ChangeAuthorizerRegistered,
		notify.ChangeWalletOffered, notify.ChangeWalletRegistered, notify.ChangeWalletRemoved}
	for _, lang := range []string{notify.LangPortuguese, notify.LangEnglish} {
		seen := map[string]string{}
		for _, change := range changes {
			d := data()
			d["Change"] = change
			text, err := tm.SMS(notify.MessageSMSFactorChanged, lang, d)
			if err != nil {
				t.Fatal(err)
			}
			if other, ok := seen[text]; ok {
				t.Errorf("%s: %s and %s read the same: %q", lang, other, change, text)
			}
			seen[text] = change
			m, err := tm.Email("ana@example.pt", notify.MessageFactorChanged, []string{lang}, d)
			if err != nil || !strings.Contains(m.Body, "2026-12-07 09:30 UTC") {
				t.Fatalf("%s/%s e-mail: %+v, %v", lang, change, m, err)
			}
		}
	}
}
