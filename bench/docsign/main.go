// Command docsign measures batch document signing through a remote
// credential, the way an e-billing platform signs a day's invoices: it
// builds `selo`, initialises a fresh data directory (SQLite, soft key
// store, SMS codes in the local outbox), starts `selo serve --roles api`,
// writes N one-page invoice PDFs and then, in the same run:
//
//   - remote: `selo sign batch DIR --format pades --credential ID` with ONE
//     SMS code (sendOTP beforehand, the code read from the outbox): the
//     process logs in, prepares every PDF, gets one SAD for N hashes, calls
//     signHash once (N ≤ multisign), finishes and writes each PDF;
//
//   - local: the same PDFs prepared, signed with a raw P-256 key in this
//     process and written, the same PAdES code path without the network;
//
//   - raw: ecdsa.SignASN1 of the same N digests alone.
//
// It prints documents per second for each (medians of -repeat alternating
// rounds, and each round's ratio) and the ratios. The remote time is the
// whole command: process start, sign-in, preparation, approval, signHash,
// and writing N files. By default the command signs in with the token file
// of one 'selo csc login' made before the rounds (a holder who is signed in
// does not hash a password per batch); -session login logs in with the
// password in every batch, as earlier figures did.
//
//	go run ./bench/docsign              # 1,000 invoices
//	go run ./bench/docsign -n 200       # a loaded machine
//	go run ./bench/docsign -repeat 5    # medians of 5 alternating rounds
//	go run ./bench/docsign -session login   # a password login per batch
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/bench/internal/benchkit"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/csc/cscserver"
	"github.com/selo-qtsp/selo/docsign/pades"
	"github.com/selo-qtsp/selo/internal/signtest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/pki/cms"
)

const (
	email    = "billing@example.pt"
	password = "correct horse battery staple"
	mobile   = "+351910000001"
)

func main() {
	bin := flag.String("selo", "", "selo binary (default: go build ./cmd/selo into a temporary directory)")
	n := flag.Int("n", 1000, "invoices in the batch (at most the credential's multisign, 1000)")
	repeat := flag.Int("repeat", 3, "alternate remote and local rounds this many times and report the medians (load drifts on a shared machine)")
	session := flag.String("session", "token", "how each remote batch is signed in: token (the token file of one 'selo csc login' before the rounds, as a holder who is signed in) or login (--user and --password-file: a fresh argon2id login per batch)")
	flag.Parse()
	if *session != "token" && *session != "login" {
		fmt.Fprintln(os.Stderr, "bench: -session is token or login")
		os.Exit(2)
	}
	if err := run(*bin, *n, *repeat, *session); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, n, repeat int, session string) error {
	if n < 1 || n > cscserver.DefaultMaxHashes || repeat < 1 {
		return fmt.Errorf("-n must be 1 to %d (one approval), -repeat at least 1", cscserver.DefaultMaxHashes)
	}
	tmp, err := os.MkdirTemp("", "selo-bench-docsign-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin, err = benchkit.Selo(bin, tmp); err != nil {
		return err
	}
	data := filepath.Join(tmp, "data")
	pwFile := filepath.Join(tmp, "password")
	if err := os.WriteFile(pwFile, []byte(password), 0o600); err != nil {
		return err
	}
	env := append(os.Environ(), "SELO_DATA="+data)
	if _, err := benchkit.Output(env, bin, "init", "--json"); err != nil {
		return err
	}
	if _, err := benchkit.Output(env, bin, "account", "create", "--email", email, "--name", "Billing Seal", "--mobile", mobile, "--password-file", pwFile); err != nil {
		return err
	}
	out, err := benchkit.Output(env, bin, "credential", "create", "--account", email, "--profile", "advanced-invoice", "--approval", "sms",
		"--key-type", "ecdsa-p256", "--mobile", mobile, "--cn", "Billing Seal", "--org", "Billing Lda",
		"--org-id", "VATPT-500000001", "--country", "PT", "--json")
	if err != nil {
		return err
	}
	var cred struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &cred); err != nil || cred.ID == "" {
		return fmt.Errorf("credential create output %q: %v", out, err)
	}

	in := filepath.Join(tmp, "invoices")
	if err := os.Mkdir(in, 0o700); err != nil {
		return err
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("INV-%05d.pdf", i)), invoice(i), 0o600); err != nil {
			return err
		}
	}

	srv, err := benchkit.StartServer(env, bin, "--roles", "api",
		// Every round sends an SMS code to one credential: the code limits
		// (docs/operators.md, "Abuse limits") are for people, not for this.
		"--code-interval", "0", "--codes-per-hour", "0", "--account-codes-per-hour", "0")
	if err != nil {
		return err
	}
	defer srv.Stop()
	addr := srv.Addr
	ctx := context.Background()
	base := "http://" + addr
	fmt.Printf("Batch document signing benchmark: %d one-page invoices, GOMAXPROCS %d, load average %s\n", n, runtime.GOMAXPROCS(0), benchkit.LoadAverage())

	key, cert, err := localKey()
	if err != nil {
		return err
	}
	// How the remote command signs in: with the token of one 'selo csc
	// login' (a holder who signed in once that day), or with the password
	// each time (an argon2id hash per batch, on the server and in the wait).
	signIn := []string{"--user", email, "--password-file", pwFile}
	if session == "token" {
		tokenFile := filepath.Join(tmp, "csc-token.json")
		if _, err := benchkit.Output(env, bin, "csc", "login", "--server", base, "--email", email, "--password-file", pwFile, "--token-file", tokenFile); err != nil {
			return err
		}
		signIn = []string{"--token-file", tokenFile}
	}
	fmt.Printf("remote batches sign in with %s\n", map[string]string{"token": "the token file of one 'selo csc login' (-session token)", "login": "the password, a fresh login per batch (-session login)"}[session])
	var remotes, locals, raws []time.Duration
	for round := range repeat {
		r, err := remoteRound(ctx, env, bin, base, data, cred.ID, signIn, in, filepath.Join(tmp, fmt.Sprintf("remote-%d", round)), n)
		if err != nil {
			return err
		}
		l, digests, err := localRound(ctx, key, cert, in, filepath.Join(tmp, fmt.Sprintf("local-%d", round)), n)
		if err != nil {
			return err
		}
		start := time.Now()
		for _, d := range digests {
			if _, err := ecdsa.SignASN1(rand.Reader, key, d); err != nil {
				return err
			}
		}
		remotes, locals, raws = append(remotes, r), append(locals, l), append(raws, time.Since(start))
		fmt.Printf("round %d: remote %.3f s, local %.3f s, ratio remote/local %.2f (load average %s)\n",
			round+1, r.Seconds(), l.Seconds(), l.Seconds()/r.Seconds(), benchkit.LoadAverage())
	}
	remote, local, raw := benchkit.Median(remotes), benchkit.Median(locals), benchkit.Median(raws)
	fmt.Printf("medians of %d alternating rounds\n", repeat)
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("%-58s %10s %12s\n", "", "seconds", "documents/s")
	fmt.Printf("%-58s %10.3f %12.0f\n", "remote: selo sign batch --credential (1 SMS code, 1 SAD)", remote.Seconds(), rate(remote))
	fmt.Printf("%-58s %10.3f %12.0f\n", "local: PAdES prepare + raw P-256 key + finish + write", local.Seconds(), rate(local))
	fmt.Printf("%-58s %10.3f %12.0f\n", "raw: ecdsa.SignASN1 of the same digests", raw.Seconds(), rate(raw))
	fmt.Printf("ratio remote/local %.2f, remote/raw %.3f\n", rate(remote)/rate(local), rate(remote)/rate(raw))
	return nil
}

// remoteRound signs the invoices with `selo sign batch --credential` and
// one SMS code, and returns the time the command took.
func remoteRound(ctx context.Context, env []string, bin, base, data, credID string, signIn []string, in, out string, n int) (time.Duration, error) {
	otpFile, err := smsCode(ctx, base, data, credID, out+".otp")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	args := append([]string{"sign", "batch", in, "--out", out, "--format", "pades", "--credential", credID,
		"--csc", base, "--otp-file", otpFile}, signIn...)
	if _, err := benchkit.Output(env, bin, args...); err != nil {
		return 0, err
	}
	took := time.Since(start)
	return took, checkSigned(out, n)
}

// localRound signs the invoices in this process with a raw key through the
// same PAdES code, and returns the time and the digests it signed.
func localRound(ctx context.Context, key *ecdsa.PrivateKey, cert *x509.Certificate, in, out string, n int) (time.Duration, [][]byte, error) {
	if err := os.Mkdir(out, 0o700); err != nil {
		return 0, nil, err
	}
	names, err := filepath.Glob(filepath.Join(in, "*.pdf"))
	if err != nil {
		return 0, nil, err
	}
	var digests [][]byte
	start := time.Now()
	for _, name := range names {
		pdf, err := os.ReadFile(name)
		if err != nil {
			return 0, nil, err
		}
		p, err := pades.Prepare(pdf, pades.Options{CMS: cms.Options{Certificate: cert}})
		if err != nil {
			return 0, nil, err
		}
		digests = append(digests, p.Digest())
		sig, err := ecdsa.SignASN1(rand.Reader, key, p.Digest())
		if err != nil {
			return 0, nil, err
		}
		signed, err := p.Finish(ctx, sig, nil)
		if err != nil {
			return 0, nil, err
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(name)), signed, 0o644); err != nil {
			return 0, nil, err
		}
	}
	took := time.Since(start)
	return took, digests, checkSigned(out, n)
}

// invoice returns a one-page PDF with a line of text naming invoice i.
func invoice(i int) []byte {
	text := fmt.Sprintf("BT /F1 14 Tf 72 760 Td (Invoice INV-%05d  Total: %d.%02d EUR) Tj ET", i, 100+i%900, i%100)
	objs := []string{
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>",
		fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", len(text), text),
		"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
	}
	return signtest.PDF("%PDF-1.4\n", objs...)
}

// smsCode asks the service to text the holder a code, reads it from the
// outbox as from the phone and writes it to path.
func smsCode(ctx context.Context, base, data, credID, path string) (string, error) {
	cl, err := csc.NewClient(base + "/csc/v2")
	if err != nil {
		return "", err
	}
	if _, err := cl.Login(ctx, email, password); err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer cl.Revoke(ctx)
	if err := cl.SendOTP(ctx, credID); err != nil {
		return "", fmt.Errorf("sendOTP: %w", err)
	}
	outbox, err := notify.OpenOutbox(filepath.Join(data, "outbox"), selo.SystemClock{})
	if err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := outbox.Wait(wctx, notify.OutboxFilter{Channel: notify.ChannelSMS, To: mobile})
	if err != nil {
		return "", fmt.Errorf("read the SMS from the outbox: %w", err)
	}
	code := benchkit.SMSCode(msgs[len(msgs)-1].Body)
	if code == "" {
		return "", fmt.Errorf("no code in the SMS %q", msgs[len(msgs)-1].Body)
	}
	return path, os.WriteFile(path, []byte(code), 0o600)
}

// checkSigned checks that dir holds n PAdES-signed PDFs.
func checkSigned(dir string, n int) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if err != nil {
		return err
	}
	if len(names) != n {
		return fmt.Errorf("%s holds %d signed PDFs, want %d", dir, len(names), n)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if !bytes.Contains(b, []byte("/SubFilter/ETSI.CAdES.detached")) {
			return fmt.Errorf("%s is not signed", name)
		}
	}
	return nil
}

// localKey makes a P-256 key and a self-signed certificate for it.
func localKey() (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Billing Holder (local)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}
