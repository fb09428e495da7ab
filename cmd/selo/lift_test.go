package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/keystore/soft"
	"github.com/selo-qtsp/selo/lift"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/store/sqlite"
)

const liftPassword = "correct horse battery"

// liftDesk is a Selo server with the registration desk over a real SQLite
// file and soft key store, which the test can stop and start again on the
// same address, as a restarted server would be.
type liftDesk struct {
	t       *testing.T
	env     *testenv.Env
	codeKey []byte
	addr    string
	outbox  *notify.Outbox

	store selo.Store
	keys  *soft.Store
	auth  *authority.Authority
	svc   *registration.Service
	hs    *http.Server
	done  chan struct{}
}

func newLiftDesk(t *testing.T) *liftDesk {
	t.Helper()
	env := testenv.New(t) // the CA hierarchy, made once in env.Dir
	outbox, err := notify.OpenOutbox(filepath.Join(env.Dir, "outbox"), env.Clock)
	if err != nil {
		t.Fatal(err)
	}
	d := &liftDesk{t: t, env: env, codeKey: bytes.Repeat([]byte{7}, 32), outbox: outbox}
	d.start()
	t.Cleanup(d.stop)
	return d
}

// start opens the store and key store from disk and serves on d.addr.
func (d *liftDesk) start() {
	t := d.t
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(d.env.Dir, "selo.db"), d.env.Clock)
	if err != nil {
		t.Fatalf("reopen the database: %v", err)
	}
	master, err := soft.MasterKeyFromFile(filepath.Join(d.env.Dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := soft.Open(filepath.Join(d.env.Dir, "keys"), master)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := authority.New(authority.Config{Store: st, Keys: keys, Profiles: d.env.Profiles, Linter: d.env.Linter,
		BaseURL: testenv.BaseURL, ProfileCA: testenv.ProfileCA, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	d.store, d.keys, d.auth = st, keys, auth
	d.svc = lifttest.NewService(t, st, auth, keys, d.outbox, d.codeKey)
	addr := d.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	d.addr = ln.Addr().String()
	d.hs = server.New(server.Config{Authority: auth, Registration: d.svc, PublicRateLimit: server.RateLimit{Off: true},
		Logger: slog.New(slog.DiscardHandler)}).HTTPServer()
	d.done = make(chan struct{})
	go func() { defer close(d.done); d.hs.Serve(ln) }()
}

// stop drops connections at once and closes everything, like a crash that
// leaves only what was committed.
func (d *liftDesk) stop() {
	if d.hs == nil {
		return
	}
	d.hs.Close()
	<-d.done
	d.auth.Close()
	d.keys.Close()
	d.store.Close()
	d.hs = nil
}

func (d *liftDesk) restart() { d.stop(); d.start() }

func (d *liftDesk) url() string { return "http://" + d.addr }

// TestLiftHelperProcess is not a test: it is the `selo lift` process the
// crash test starts (and kills) from this test binary, so that the race
// detector watches it too. TestMain clears SELO_* variables, so they come
// in LIFT_HELPER_ENV.
func TestLiftHelperProcess(t *testing.T) {
	args := os.Getenv("LIFT_HELPER_ARGS")
	if args == "" {
		t.Skip("the selo lift child process of TestLiftCrash")
	}
	var argv []string
	var env map[string]string
	if json.Unmarshal([]byte(args), &argv) != nil || json.Unmarshal([]byte(os.Getenv("LIFT_HELPER_ENV")), &env) != nil {
		os.Exit(99)
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	os.Exit(Run(context.Background(), argv, os.Stdin, os.Stdout, os.Stderr))
}

// liftChild runs `selo lift` in a child process with env.
func liftChild(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	a, _ := json.Marshal(args)
	e, _ := json.Marshal(env)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLiftHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LIFT_HELPER_ARGS="+string(a), "LIFT_HELPER_ENV="+string(e))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{args: args, code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// liftToEnd runs `selo lift` for o until it finishes, as a holder would:
// reading the e-mailed code from the outbox when a run asks for it. With
// crashAt set, the first run that reaches that point dies there
// (SELO_LIFT_CRASH_AFTER). The server restarts between runs. It returns
// every run.
func liftToEnd(t *testing.T, d *liftDesk, o lifttest.Order, stateDir, outDir, crashAt string) []result {
	t.Helper()
	var runs []result
	emailCode, crashed := "", crashAt == ""
	for len(runs) < 6 {
		env := map[string]string{envLiftCode: o.LiftCode, envPFXPass: liftPassword}
		if emailCode != "" {
			env[envEmailCode] = emailCode
		}
		if !crashed {
			env[envCrashAfter] = crashAt
		}
		r := liftChild(t, env, "lift", "--server", d.url(), "--order", o.Number, "--out", outDir, "--state-dir", stateDir)
		runs = append(runs, r)
		switch {
		case r.code == 0:
			if !crashed {
				t.Fatalf("the flow never reached %s:\n%s", crashAt, r)
			}
			return runs
		case r.code == exitCrashHook && !crashed:
			crashed = true
		case r.code == 1 && strings.Contains(r.stderr, "e-mailed") && emailCode == "":
			emailCode = lifttest.EmailCode(t, d.outbox, o.Email)
		default:
			t.Fatalf("unexpected end of run %d:\n%s", len(runs), r)
		}
		d.restart()
	}
	t.Fatalf("no end after %d runs: %v", len(runs), runs)
	return nil
}

// checkLifted checks, over the registration desk svc and its store, that
// the order ended delivered with exactly one key and one certificate, and
// that the .pfx holds that key and certificate.
func checkLifted(t *testing.T, svc *registration.Service, store selo.Store, o lifttest.Order, stateDir, pfxPath string) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	order, err := svc.FindOrder(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	if order.State != selo.OrderDelivered {
		t.Fatalf("order %s is %s, want delivered", o.Number, order.State)
	}
	hist, err := svc.OrderHistory(ctx, o.Number)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, e := range hist {
		if e.To == selo.OrderKeyReady {
			keys++
		}
	}
	if keys != 1 {
		t.Fatalf("the order recorded a key %d times", keys)
	}
	certs, err := store.ListCertificates(ctx, selo.CertificateFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	mine := 0
	for _, c := range certs {
		x, err := x509.ParseCertificate(c.DER)
		if err != nil {
			t.Fatal(err)
		}
		if spkiHash(t, x.PublicKey) == order.PublicKeySHA256 {
			mine++
		}
	}
	if mine != 1 {
		t.Fatalf("%d certificates for the order's key, want 1", mine)
	}
	key, leaf, _, err := pkcs12.DecodeChain(readFile(t, pfxPath), liftPassword)
	if err != nil {
		t.Fatalf("the .pfx does not open: %v", err)
	}
	if spkiHash(t, key.(crypto.Signer).Public()) != order.PublicKeySHA256 || spkiHash(t, leaf.PublicKey) != order.PublicKeySHA256 {
		t.Fatal("the .pfx's key or certificate is not the order's key")
	}
	if got := leaf.SerialNumber.Text(16); !strings.EqualFold(strings.TrimLeft(order.CertificateSerial, "0"), got) {
		t.Fatalf("the .pfx holds certificate %s, the order %s", got, order.CertificateSerial)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "key.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the waiting key is still in %s", stateDir)
	}
	return leaf
}

func spkiHash(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// TestLiftCrash kills `selo lift` right after each durable point in turn,
// restarts the server, and runs it again: every order ends with one key,
// one certificate and a .pfx that holds both.
func TestLiftCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test starts many processes; skipped in -short")
	}
	d := newLiftDesk(t)
	for _, point := range lift.Points {
		t.Run(point, func(t *testing.T) {
			o := lifttest.ReadyOrder(t, d.svc, d.outbox, "qualified-sign", selo.DeliverySoftware)
			stateDir, outDir := filepath.Join(t.TempDir(), "state"), t.TempDir()
			runs := liftToEnd(t, d, o, stateDir, outDir, point)
			last := runs[len(runs)-1]
			if !strings.Contains(last.stdout, "step 5/5") || !strings.Contains(last.stdout, lift.PFXName(o.Number)) {
				t.Fatalf("last run:\n%s", last)
			}
			checkLifted(t, d.svc, d.store, o, stateDir, filepath.Join(outDir, lift.PFXName(o.Number)))
			// One more run changes nothing.
			r := liftChild(t, map[string]string{envLiftCode: o.LiftCode, envPFXPass: liftPassword},
				"lift", "--server", d.url(), "--order", o.Number, "--out", outDir, "--state-dir", stateDir)
			if r.code != 0 || !strings.Contains(r.stdout, "lifted already") {
				t.Fatalf("rerun after the end:\n%s", r)
			}
			checkLifted(t, d.svc, d.store, o, stateDir, filepath.Join(outDir, lift.PFXName(o.Number)))
		})
	}
}

// outboxMail returns the body of the newest e-mail to address whose subject
// holds subject, read from DATA's outbox with 'selo outbox' as a holder
// reads it on a server with no SMTP configured.
func outboxMail(t *testing.T, data, address, subject string) string {
	t.Helper()
	r := mustRunSelo(t, "--data", data, "--json", "outbox", "--channel", "email", "--to", address)
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	body := ""
	for {
		var m selo.OutboxMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("selo outbox --json: %v\n%s", err, r)
		}
		if strings.Contains(m.Subject, subject) {
			body = m.Body
		}
	}
	if body == "" {
		t.Fatalf("no e-mail %q to %s in the outbox:\n%s", subject, address, r)
	}
	return body
}

// TestLiftEndToEnd walks an order from creation to a .pfx that the real
// openssl opens and whose chain it verifies, through 'selo serve' wired as
// in production (the catalogue's document checker, the local outbox): the
// officer works with 'selo order', the holder submits a real ID card MRZ to
// the API, reads every code from the e-mails in the outbox, and runs
// 'selo lift'.
func TestLiftEndToEnd(t *testing.T) {
	data := dataDir(t)
	// Without the 30 s between two codes of one order: the holder asks for a
	// new lift code and then lifts at once (the limits have their own tests).
	base, serveErr := serveInProcess(t, data, "--code-interval", "0")
	d := []string{"--data", data}
	const email = "ana.silva@example.pt"

	// The officer creates the order; the access code reaches the holder by e-mail.
	var created server.CreateOrderResponse
	decodeJSON(t, mustRunSelo(t, append(d, "--json", "order", "create", "--given-names", "Ana Maria", "--surname", "Silva",
		"--birth-date", "1990-05-17", "--email", email, "--mobile", "+351912345678",
		"--profile", "qualified-sign", "--delivery", "software", "--country", "PT")...), &created)
	number := created.Order.Number
	accessCode := lifttest.Find(t, outboxMail(t, data, email, "Your certificate order "+number), `access code ([^\s.]+)`)
	if accessCode != created.AccessCode {
		t.Fatalf("the e-mail gives access code %q, order create printed another", accessCode)
	}

	// The holder submits the ID card to the API: the machine checks pass it
	// on to the officers' queue.
	card := lifttest.IDCard(selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", BirthDate: time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)},
		lifttest.CardNumber, lifttest.Expiry())
	req, _ := json.Marshal(server.IdentityCheckRequest{AccessCode: accessCode, DocumentType: card.DocumentType, Country: card.Country,
		DocumentNumber: card.DocumentNumber, ExpiryDate: card.ExpiryDate.Format(time.DateOnly), MRZ: card.MRZ})
	resp, err := http.Post(base+"/api/v1/orders/"+number+"/identity-check", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	var check server.IdentityCheckResponse
	err = json.NewDecoder(resp.Body).Decode(&check)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || check.Status != string(selo.IdentityPending) {
		t.Fatalf("identity check: %d %+v %v\n%s", resp.StatusCode, check, err, serveErr)
	}

	// The officer approves it and records the payment: the order is ready.
	mustRunSelo(t, append(d, "order", "decide", check.ID, "--approve", "--reason", "photo and liveness video match the card")...)
	r := mustRunSelo(t, append(d, "order", "pay", number, "--reference", "TPA-1", "--amount", "49.90")...)
	if !strings.Contains(r.stdout, "order "+number+" is ready") {
		t.Fatalf("order pay:\n%s", r)
	}
	ready := outboxMail(t, data, email, "Your certificate is ready: order "+number)
	// The exact next step, not "click Validate" in an application the holder does not have.
	if !strings.Contains(ready, "selo lift --server http://127.0.0.1:8080 --order "+number) || strings.Contains(ready, "click Validate") {
		t.Fatalf("the ready e-mail does not give the next step:\n%s", ready)
	}
	o := lifttest.Order{Number: lifttest.Find(t, ready, `Order number: (\S+)`), LiftCode: lifttest.Find(t, ready, `Code: ([A-Z0-9]+)`), Email: email}
	if o.Number != number {
		t.Fatalf("the ready e-mail names order %s, want %s", o.Number, number)
	}
	// The renewal command of the ready e-mail runs as written (the server's
	// public URL is the test server's address here).
	newCode := strings.Fields(lifttest.Find(t, ready, `(selo lift new-code [^\n]+)`))
	for i, f := range newCode {
		newCode[i] = strings.ReplaceAll(f, "http://127.0.0.1:8080", base)
	}
	if r := runSelo(t, newCode[1:]...); r.code != 0 || !strings.Contains(r.stdout, "a new lift code has been e-mailed") {
		t.Fatalf("the ready e-mail's renewal command %q:\n%s", newCode, r)
	}
	o.LiftCode = lifttest.Find(t, outboxMail(t, data, email, "New code for order "+number), `Code: ([A-Z0-9]+)`)

	stateDir, outDir := filepath.Join(t.TempDir(), "state"), t.TempDir()
	args := []string{"lift", "--server", base, "--order", o.Number, "--out", outDir, "--state-dir", stateDir}
	t.Setenv(envLiftCode, o.LiftCode)
	pwFile := writeFile(t, filepath.Join(t.TempDir(), "pw"), liftPassword+"\n")

	r = runSelo(t, args...)
	wantExit(t, r, 1, "e-mailed", envEmailCode)
	if !strings.Contains(r.stdout, "step 1/5") {
		t.Fatalf("first run:\n%s", r)
	}
	t.Setenv(envEmailCode, lifttest.Find(t, outboxMail(t, data, email, "Verification code for order "+number), `is ([0-9]{6})`))
	r = mustRunSelo(t, append(args, "--password-file", pwFile)...)
	for _, want := range []string{"step 2/5: e-mail address verified", "step 3/5", "step 4/5", "step 5/5", "Done.", "Revocation code (shown only now"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("no %q:\n%s", want, r)
		}
	}
	for _, secret := range []string{o.LiftCode, os.Getenv(envEmailCode), liftPassword} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Fatalf("selo lift printed a secret:\n%s", r)
		}
	}
	pfx := filepath.Join(outDir, lift.PFXName(o.Number))
	desk, c := holderDesk(t, data, nil)
	leaf := checkLifted(t, desk, c.store, o, stateDir, pfx)
	// Issue 12 item 4: a key in a .pfx is not in a QSCD, so the certificate
	// says neither QcSSCD nor QCP-n-qscd; it is QCP-n.
	if pki.HasQcSSCD(leaf) {
		t.Error("the certificate of a software key states QcSSCD")
	}
	if len(leaf.Policies) != 1 || leaf.Policies[0].String() != "0.4.0.194112.1.0" {
		t.Errorf("the certificate of a software key has policies %v, want QCP-n 0.4.0.194112.1.0 only", leaf.Policies)
	}

	// The revocation code shown once revokes the certificate without the key.
	revCode := lifttest.Find(t, r.stdout, `Revocation code \(shown only now[^)]*\): ([A-Z0-9-]+)`)
	wantExit(t, runSelo(t, "lift", "revoke", "--server", base, "--serial", leaf.SerialNumber.Text(16), "--revocation-code", "AAAAA-AAAAA-AAAAA-AAAAA"), 1, "revocation code is wrong")
	rr := mustRunSelo(t, "lift", "revoke", "--server", base, "--serial", leaf.SerialNumber.Text(16), "--revocation-code", revCode, "--reason", "keyCompromise")
	if !strings.Contains(rr.stdout, "revoked (keyCompromise)") {
		t.Fatalf("lift revoke:\n%s", rr)
	}

	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl is not installed")
		}
		t.Skip("SKIPPING the openssl checks: openssl is not installed")
	}
	info, err := exec.Command(openssl, "pkcs12", "-in", pfx, "-info", "-passin", "pass:"+liftPassword, "-nodes").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -info: %v\n%s", err, info)
	}
	for _, want := range []string{"MAC: sha256", "PBES2", "AES-256-CBC", "BEGIN PRIVATE KEY", "BEGIN CERTIFICATE"} {
		if !bytes.Contains(info, []byte(want)) {
			t.Fatalf("openssl pkcs12 -info shows no %q:\n%s", want, info)
		}
	}
	cas, err := exec.Command(openssl, "pkcs12", "-in", pfx, "-passin", "pass:"+liftPassword, "-cacerts", "-nokeys").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var root, untrusted []byte
	for rest := cas; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(c.RawSubject, c.RawIssuer) {
			root = append(root, pem.EncodeToMemory(block)...)
		} else {
			untrusted = append(untrusted, pem.EncodeToMemory(block)...)
		}
	}
	if root == nil || untrusted == nil {
		t.Fatalf("the .pfx does not hold the chain to the root:\n%s", cas)
	}
	leafFile := writeFile(t, filepath.Join(dir, "leaf.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})))
	out, err := exec.Command(openssl, "verify", "-CAfile", writeFile(t, filepath.Join(dir, "root.pem"), string(root)),
		"-untrusted", writeFile(t, filepath.Join(dir, "ca.pem"), string(untrusted)), leafFile).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

func TestLiftCommandRefuses(t *testing.T) {
	wantExit(t, runSelo(t, "lift", "--server", "http://127.0.0.1:1"), 2, "--order")
	wantExit(t, runSelo(t, "lift", "--server", "http://127.0.0.1:1", "--order", "../etc"), 2, "--order")
	wantExit(t, runSelo(t, "lift", "--server", "http://127.0.0.1:1", "--order", "SO-1", "code"), 2)
	wantExit(t, runSelo(t, "lift", "--server", "http://127.0.0.1:1", "--order", "SO-1"), 1, envLiftCode)
	t.Setenv(envCrashAfter, "nowhere")
	wantExit(t, runSelo(t, "lift", "--server", "http://127.0.0.1:1", "--order", "SO-1"), 2, envCrashAfter)
	t.Setenv(envCrashAfter, "")
	t.Setenv(envLiftCode, "AAAAAAAAAAAA")
	wantExit(t, runSelo(t, "lift", "--server", "http://127.0.0.1:1", "--order", "SO-1"), 1, "cannot reach the server")
	r := mustRunSelo(t, "lift", "--help")
	for _, want := range []string{"Examples:", envLiftCode, envEmailCode, envPFXPass, "Digital<ORDER>.pfx", "resumes"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("selo lift --help does not mention %q", want)
		}
	}
}
