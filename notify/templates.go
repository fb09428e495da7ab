package notify

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/template"

	"github.com/selo-qtsp/selo"
)

// The messages Selo writes to holders, each a template file NAME.txt per
// language. An e-mail template starts with a "Subject: ..." line and a blank
// line; an SMS template is the text alone.
const (
	MessageOrderCreated          = "order-created"           // e-mail: .Number, .AccessCode
	MessageReady                 = "ready"                   // e-mail: .Number, .Code, .Renewal, .BaseURL, .Delivery, .Profile, .Email, .Approval
	MessageEmailCode             = "email-code"              // e-mail: .Number, .Code, .Minutes
	MessageSMSSignature          = "sms-signature"           // SMS: .Code, .Minutes
	MessageSMSAuthorizerRegister = "sms-authorizer-register" // SMS: .Code, .Minutes
	MessageSMSAuthorizerRenew    = "sms-authorizer-renew"    // SMS: .Code, .Minutes
	MessageSMSRevoke             = "sms-revoke"              // SMS: .Code, .Minutes, .Subject (the certificate's serial)
	MessageSMSFactorCode         = "sms-factor-code"         // SMS: .Code, .Minutes
	MessageFactorChanged         = "factor-changed"          // e-mail: .Name, .When, .Change, .Factor
	MessageSMSFactorChanged      = "sms-factor-changed"      // SMS: .When, .Change, .Factor
	MessageSMSSignInCode         = "sms-signin-code"         // SMS: .Code, .Minutes (the portal's second factor)
	MessagePasswordReset         = "password-reset"          // e-mail: .Name, .Link, .Minutes
	MessageSMSPasswordReset      = "sms-password-reset"      // SMS: .Code, .Minutes
	MessageEmailAuthorizerRenew  = "email-authorizer-renew"  // e-mail: .Code, .Minutes, .Name (the authorizer's)
)

// The changes MessageFactorChanged and MessageSMSFactorChanged tell of
// (their .Change); .Factor is the name the holder gave the factor.
const (
	ChangeAuthenticatorAdded   = "authenticator-added"
	ChangeAuthenticatorRemoved = "authenticator-removed"
	ChangeAuthorizerRegistered = "authorizer-registered"
	ChangeWalletOffered        = "wallet-offered" // a wallet enrolment was started (no .Factor yet)
	ChangeWalletRegistered     = "wallet-registered"
	ChangeWalletRemoved        = "wallet-removed"
	ChangeApprovalMethod       = "approval-method" // a certificate's approval method changed (.Factor: the new one)
)

// Languages with embedded templates. English is the fallback of a language
// an operator adds with only some of the files.
const (
	LangPortuguese = "pt"
	LangEnglish    = "en"
)

// sampleData is what each message is rendered with when templates are
// loaded, so that a misspelt field in an operator's file fails at start, not
// when a holder is waiting for the e-mail.
var sampleData = map[string]map[string]any{
	MessageOrderCreated: {"Number": "SO-2026-K7Q2M9XD", "AccessCode": "ABCDEFGH2345"},
	MessageReady: {"Number": "SO-2026-K7Q2M9XD", "Code": "ABCDEFGH2345", "Renewal": "ABCDEFGHJKLMNPQRSTUV", "BaseURL": "https://ra.example.eu",
		"Delivery": "software", "Profile": "qualified-sign", "Email": "ana@example.pt", "Approval": ""},
	MessageEmailCode:             {"Number": "SO-2026-K7Q2M9XD", "Code": "123456", "Minutes": 15},
	MessageSMSSignature:          {"Code": "123456", "Minutes": 5},
	MessageSMSAuthorizerRegister: {"Code": "123456", "Minutes": 5},
	MessageSMSAuthorizerRenew:    {"Code": "123456", "Minutes": 5},
	MessageSMSRevoke:             {"Code": "123456", "Minutes": 5, "Subject": "4F2A9C"},
	MessageSMSFactorCode:         {"Code": "123456", "Minutes": 5},
	MessageFactorChanged:         {"Name": "Ana Silva", "When": "2026-12-07 09:30 UTC", "Change": ChangeWalletRegistered, "Factor": "phone"},
	MessageSMSFactorChanged:      {"When": "2026-12-07 09:30 UTC", "Change": ChangeWalletRegistered, "Factor": "phone"},
	MessageSMSSignInCode:         {"Code": "123456", "Minutes": 5},
	MessagePasswordReset:         {"Name": "Ana Silva", "Link": "https://ra.example.eu/account/reset/open?token=Zm9v", "Minutes": 60},
	MessageSMSPasswordReset:      {"Code": "123456", "Minutes": 5},
	MessageEmailAuthorizerRenew:  {"Code": "123456", "Minutes": 5, "Name": "ERP Faturas"},
}

var langPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2}$`) })

//go:embed templates
var embeddedTemplates embed.FS

// Templates renders holder messages from the embedded pt and en files and an
// operator's override directory. It is safe for concurrent use.
type Templates struct {
	byKey map[string]*template.Template // "lang/name"
}

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates {
	t, err := LoadTemplates("")
	if err != nil {
		panic("notify: embedded templates: " + err.Error()) // caught by the tests
	}
	return t
}

// LoadTemplates loads the embedded templates and then dir (when not "" and
// present): dir/LANG/NAME.txt replaces the embedded file of that language and
// name, and a new LANG folder adds a language (English fills the messages it
// lacks). An unknown file name, a template that does not parse, or one that
// names a field its message does not have is an EINVALID error naming the file.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{byKey: map[string]*template.Template{}}
	if err := t.load(embeddedTemplates, "templates", "embedded"); err != nil {
		return nil, err
	}
	if dir != "" {
		if _, err := os.Stat(dir); err == nil {
			if err := t.load(os.DirFS(dir), ".", dir); err != nil {
				return nil, err
			}
		} else if !os.IsNotExist(err) {
			return nil, fmt.Errorf("message templates: %w", err)
		}
	}
	return t, nil
}

func (t *Templates) load(fsys fs.FS, root, where string) error {
	langs, err := fs.ReadDir(fsys, root)
	if err != nil {
		return fmt.Errorf("message templates in %s: %w", where, err)
	}
	for _, l := range langs {
		if !l.IsDir() {
			continue
		}
		if !langPattern().MatchString(l.Name()) {
			return selo.Errorf(selo.EINVALID, "message templates in %s: folder %q is not a two-letter language code such as pt or en", where, l.Name())
		}
		files, err := fs.ReadDir(fsys, pathJoin(root, l.Name()))
		if err != nil {
			return fmt.Errorf("message templates in %s: %w", where, err)
		}
		for _, f := range files {
			name, ok := strings.CutSuffix(f.Name(), ".txt")
			file := filepath.Join(where, l.Name(), f.Name())
			if f.IsDir() || !ok {
				continue
			}
			if _, known := sampleData[name]; !known {
				return selo.Errorf(selo.EINVALID, "message template %s: there is no message %q (known: %s)", file, name, strings.Join(messageNames(), ", "))
			}
			b, err := fs.ReadFile(fsys, pathJoin(root, l.Name(), f.Name()))
			if err != nil {
				return fmt.Errorf("message template %s: %w", file, err)
			}
			tmpl, err := template.New(name).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return selo.Errorf(selo.EINVALID, "message template %s: %v", file, err)
			}
			if err := tmpl.Execute(new(bytes.Buffer), sampleData[name]); err != nil {
				return selo.Errorf(selo.EINVALID, "message template %s: %v", file, err)
			}
			if isEmail(name) && !strings.HasPrefix(string(b), "Subject: ") {
				return selo.Errorf(selo.EINVALID, "message template %s: an e-mail template starts with a \"Subject: ...\" line", file)
			}
			t.byKey[l.Name()+"/"+name] = tmpl
		}
	}
	return nil
}

func pathJoin(elem ...string) string { return strings.TrimPrefix(strings.Join(elem, "/"), "./") }

func isEmail(name string) bool { return !strings.HasPrefix(name, "sms-") }

func messageNames() []string {
	names := make([]string, 0, len(sampleData))
	for n := range sampleData {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HasLanguage reports whether lang has templates (embedded or the operator's).
func (t *Templates) HasLanguage(lang string) bool {
	for k := range t.byKey {
		if strings.HasPrefix(k, lang+"/") {
			return true
		}
	}
	return false
}

// render executes message name in lang (English when lang lacks it).
func (t *Templates) render(name, lang string, data map[string]any) (string, error) {
	tmpl, ok := t.byKey[lang+"/"+name]
	if !ok {
		if tmpl, ok = t.byKey[LangEnglish+"/"+name]; !ok {
			return "", fmt.Errorf("no message template %q", name)
		}
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render message %s/%s: %w", lang, name, err)
	}
	return b.String(), nil
}

// Email renders e-mail message name to to, in each of langs in turn: one
// language, or several (Portuguese first, then English) in one e-mail with
// the subjects joined by " / ".
func (t *Templates) Email(to, name string, langs []string, data map[string]any) (selo.Email, error) {
	var subjects, bodies []string
	for _, lang := range langs {
		text, err := t.render(name, lang, data)
		if err != nil {
			return selo.Email{}, err
		}
		first, rest, _ := strings.Cut(text, "\n")
		subjects = append(subjects, strings.TrimSpace(strings.TrimPrefix(first, "Subject: ")))
		bodies = append(bodies, strings.TrimSpace(rest)+"\n")
	}
	return selo.Email{To: to, Subject: strings.Join(slices.Compact(subjects), " / "), Body: strings.Join(bodies, "\n----------------------------------------\n\n")}, nil
}

// SMS renders text message name in lang.
func (t *Templates) SMS(name, lang string, data map[string]any) (string, error) {
	text, err := t.render(name, lang, data)
	return strings.TrimSpace(text), err
}

// HolderLanguages returns the languages a holder's e-mails are written in:
// the order's language when set; otherwise Portuguese first and English
// after it for a Portuguese holder (a +351 mobile), English for others.
func HolderLanguages(lang, mobile string) []string {
	switch {
	case lang != "":
		return []string{lang}
	case strings.HasPrefix(mobile, "+351"):
		return []string{LangPortuguese, LangEnglish}
	}
	return []string{LangEnglish}
}

// SMSLanguage returns the one language of a text message: lang when set,
// Portuguese for a +351 mobile, English otherwise.
func SMSLanguage(lang, mobile string) string {
	return HolderLanguages(lang, mobile)[0]
}
