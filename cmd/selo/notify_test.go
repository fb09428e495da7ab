package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/server"
)

func TestOutboxCommand(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	ctx := context.Background()

	// The senders `selo serve` and the signing commands use: with no SMTP
	// server and no SMS gateway configured, both write to DATA/outbox.
	c := newCLI(strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	c.dataDir = data
	n, err := c.notifiers()
	if err != nil {
		t.Fatal(err)
	}
	if n.Outbox == nil || n.Outbox.Dir() != filepath.Join(data, "outbox") {
		t.Fatalf("the default senders do not write to DATA/outbox: %+v", n)
	}
	if err := n.Mailer.SendEmail(ctx, selo.Email{To: "maria@example.pt", Subject: "Your certificate is ready", Body: "Order SO-1\nCode: 123456\n"}); err != nil {
		t.Fatal(err)
	}
	if err := n.SMS.SendSMS(ctx, "+351912345678", "Selo code 654321"); err != nil {
		t.Fatal(err)
	}

	r := mustRunSelo(t, "--data", data, "outbox")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "maria@example.pt") || !strings.Contains(lines[0], "Your certificate is ready") ||
		!strings.Contains(lines[1], "+351912345678") || !strings.Contains(lines[1], "Selo code 654321") {
		t.Fatalf("outbox listing, oldest first:\n%s", r.stdout)
	}
	r = mustRunSelo(t, "--data", data, "outbox", "--channel", "sms")
	if strings.Contains(r.stdout, "maria@") || !strings.Contains(r.stdout, "654321") {
		t.Fatalf("outbox --channel sms:\n%s", r.stdout)
	}
	id := strings.Fields(lines[0])[0]
	r = mustRunSelo(t, "--data", data, "outbox", "show", id)
	if !strings.Contains(r.stdout, "Subject: Your certificate is ready") || !strings.Contains(r.stdout, "Code: 123456") {
		t.Fatalf("outbox show:\n%s", r.stdout)
	}
	var m selo.OutboxMessage
	decodeJSON(t, mustRunSelo(t, "--data", data, "--json", "outbox", "show", id), &m)
	if m.ID != id || m.Channel != notify.ChannelEmail || m.To != "maria@example.pt" {
		t.Fatalf("outbox show --json: %+v", m)
	}

	wantExit(t, runSelo(t, "--data", data, "outbox", "show", "nope"), 1)
	wantExit(t, runSelo(t, "--data", data, "outbox", "--channel", "fax"), 1, "unknown outbox channel")
	wantExit(t, runSelo(t, "--data", filepath.Join(t.TempDir(), "missing"), "outbox"), 1, "not initialized")
}

// TestOutboxJSONShape checks that `selo outbox --json`, `outbox show --json`,
// the outbox files and the API name the fields alike: id, channel, to,
// subject, body, created_at.
func TestOutboxJSONShape(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	c := newCLI(strings.NewReader(""), &strings.Builder{}, &strings.Builder{})
	c.dataDir = data
	n, err := c.notifiers()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Mailer.SendEmail(context.Background(), selo.Email{To: "maria@example.pt", Subject: "Hello", Body: "Text\n"}); err != nil {
		t.Fatal(err)
	}
	keys := func(t *testing.T, b []byte) string {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v:\n%s", err, b)
		}
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return strings.Join(k, ",")
	}
	want := "body,channel,created_at,id,subject,to"
	list := mustRunSelo(t, "--data", data, "--json", "outbox")
	if got := keys(t, []byte(list.stdout)); got != want {
		t.Errorf("selo outbox --json fields %s, want %s", got, want)
	}
	var m selo.OutboxMessage
	if err := json.Unmarshal([]byte(list.stdout), &m); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, []byte(mustRunSelo(t, "--data", data, "--json", "outbox", "show", m.ID).stdout)); got != want {
		t.Errorf("selo outbox show --json fields %s, want %s", got, want)
	}
	if got := keys(t, readFile(t, filepath.Join(data, "outbox", m.ID+".json"))); got != want {
		t.Errorf("outbox file fields %s, want %s", got, want)
	}
	api, _ := json.Marshal(server.OutboxMessage{Subject: "s"})
	if got := keys(t, api); got != want {
		t.Errorf("API outbox message fields %s, want %s", got, want)
	}
}

// TestOrderEmailLanguage creates orders through the CLI and reads their
// e-mails in the outbox: Portuguese first then English for a +351 holder who
// chose no language, one language when the order names it, and an operator's
// template file in DATA/templates replaces the embedded text.
func TestOrderEmailLanguage(t *testing.T) {
	t.Parallel()
	data := dataDir(t)
	create := func(email, mobile string, extra ...string) string {
		t.Helper()
		var created server.CreateOrderResponse
		decodeJSON(t, mustRunSelo(t, append([]string{"--data", data, "--json", "order", "create", "--given-names", "Ana", "--surname", "Silva",
			"--email", email, "--mobile", mobile, "--profile", "qualified-sign", "--delivery", "token", "--country", "PT"}, extra...)...), &created)
		return created.Order.Number
	}
	mail := func(to string) selo.OutboxMessage {
		t.Helper()
		var m selo.OutboxMessage
		if err := json.Unmarshal([]byte(mustRunSelo(t, "--data", data, "--json", "outbox", "--to", to).stdout), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	n := create("pt@exemplo.pt", "+351912345678")
	m := mail("pt@exemplo.pt")
	pt, en := strings.Index(m.Body, "código de acesso"), strings.Index(m.Body, "access code")
	if m.Subject != "O seu pedido de certificado "+n+" / Your certificate order "+n || pt < 0 || en < pt {
		t.Errorf("a +351 holder's e-mail is not Portuguese first, then English: %q\n%s", m.Subject, m.Body)
	}
	create("en@exemplo.pt", "+351912345679", "--language", "en")
	if m := mail("en@exemplo.pt"); strings.Contains(m.Body, "código") || !strings.HasPrefix(m.Subject, "Your certificate order") {
		t.Errorf("--language en gave: %q\n%s", m.Subject, m.Body)
	}
	create("es@exemplo.es", "+34612345678")
	if m := mail("es@exemplo.es"); strings.Contains(m.Body, "código") {
		t.Errorf("a non-Portuguese holder got Portuguese: %s", m.Body)
	}
	wantExit(t, runSelo(t, "--data", data, "order", "create", "--given-names", "Ana", "--surname", "Silva", "--email", "x@exemplo.pt",
		"--mobile", "+351912345678", "--profile", "qualified-sign", "--delivery", "token", "--country", "PT", "--language", "fr"), 1, `language "fr" has no message templates`)

	// The operator's wording.
	if err := os.MkdirAll(filepath.Join(data, "templates", "pt"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "templates", "pt", "order-created.txt"), "Subject: Exemplo Certificados: pedido {{.Number}}\n\nCódigo de acesso: {{.AccessCode}}\n")
	n = create("custom@exemplo.pt", "+351912345670", "--language", "pt")
	if m := mail("custom@exemplo.pt"); m.Subject != "Exemplo Certificados: pedido "+n || !strings.HasPrefix(m.Body, "Código de acesso: ") {
		t.Errorf("the operator's template was not used: %q\n%s", m.Subject, m.Body)
	}
	// A broken template is refused by name, not sent half-written.
	writeFile(t, filepath.Join(data, "templates", "pt", "order-created.txt"), "Subject: x\n\n{{.Nmber}}\n")
	wantExit(t, runSelo(t, "--data", data, "order", "create", "--given-names", "Ana", "--surname", "Silva", "--email", "y@exemplo.pt",
		"--mobile", "+351912345678", "--profile", "qualified-sign", "--delivery", "token", "--country", "PT"), 1, "order-created.txt", "Nmber")
}
