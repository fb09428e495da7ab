package main

// The in-process CSC server the csc, sign --credential and sign batch
// --credential tests run against, and what its holder does on the phone.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/approval"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/csc"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/signing"
)

// cscServer is a real Selo server (SQLite, soft key store, the signing
// service, SMS into an outbox) with one holder, for the csc commands.
type cscServer struct {
	env    *testenv.Env
	url    string
	svc    *signing.Service
	outbox *notify.Outbox
	acct   *selo.Account
	pwFile string
	// ca is the authority behind the server, for operator actions.
	ca *authority.Authority
}

// cscMobile is the holder's mobile number, where the SMS codes go.
const cscMobile = "+351912000099"

// newCSCServer starts a cscServer with the signing service as configured in
// production apart from cheap password hashing.
func newCSCServer(t *testing.T) *cscServer {
	t.Helper()
	return newCSCServerConfig(t, nil)
}

// newCSCServerConfig is newCSCServer with the signing service's config
// changed by tune first (nil: as is).
func newCSCServerConfig(t *testing.T, tune func(*signing.Config)) *cscServer {
	t.Helper()
	env := testenv.New(t)
	outbox := testenv.Outbox(t, env.Clock)
	srv := httptest.NewUnstartedServer(nil)
	// testenv's signing service, without the code limits: the CLI tests send
	// several codes to one credential within seconds (the limits have their
	// own tests, server/limit_test.go).
	svc := env.SigningService(t, func(cfg *signing.Config) {
		cfg.SMS, cfg.PublicURL = outbox, "http://"+srv.Listener.Addr().String()
		if tune != nil {
			tune(cfg)
		}
	})
	srv.Config.Handler = server.New(server.Config{Authority: env.Authority, Signing: svc, Logger: slog.New(slog.DiscardHandler)}).Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	const pw = "correct horse battery"
	a, err := svc.CreateAccount(context.Background(), "operator", signing.CreateAccountRequest{
		Email: "maria@example.pt", Name: "Maria Silva", Mobile: cscMobile, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return &cscServer{env: env, url: srv.URL, svc: svc, outbox: outbox, acct: a, pwFile: writeFile(t, filepath.Join(t.TempDir(), "pw"), pw+"\n"), ca: env.Authority}
}

// credential creates a qualified-sign credential of the holder with approval
// ap and a key of kind key, and returns its ID.
func (s *cscServer) credential(t *testing.T, ap selo.ApprovalType, key selo.KeyAlgorithm) string {
	t.Helper()
	// Qualified credentials come only from an order.
	c, err := s.svc.AttachOrderCredential(context.Background(), "operator", s.env.OrderCredential(t, s.acct.Email, "qualified-sign", ap, key))
	if err != nil {
		t.Fatal(err)
	}
	return c.CredentialID
}

// smsCode reads the newest code texted to the holder, as from the phone.
func (s *cscServer) smsCode(t *testing.T) string {
	t.Helper()
	msgs, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS, To: cscMobile})
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no SMS: %v", err)
	}
	for _, f := range strings.Fields(msgs[len(msgs)-1].Body) {
		f = strings.TrimRight(f, ".,:")
		if len(f) >= 6 && len(f) <= 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	t.Fatalf("no code in %q", msgs[len(msgs)-1].Body)
	return ""
}

// smsCount returns how many texts the holder has been sent.
func (s *cscServer) smsCount(t *testing.T) int {
	t.Helper()
	msgs, err := s.outbox.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelSMS, To: cscMobile})
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

// credentialChain returns the certificates of a credential, leaf first, as
// the CSC service lists them.
func (s *cscServer) credentialChain(t *testing.T, cred string) []*x509.Certificate {
	t.Helper()
	ctx := context.Background()
	cl, err := csc.NewClient(s.url + server.CSCPrefix)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(readFile(t, s.pwFile)))
	if _, err := cl.Login(ctx, "maria@example.pt", pw); err != nil {
		t.Fatal(err)
	}
	d, err := cl.CredentialInfo(ctx, cred)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := d.Certificates()
	if err != nil || len(certs) < 2 {
		t.Fatalf("credential chain: %d certificates, %v", len(certs), err)
	}
	return certs
}

// credentialRoot writes the root certificate of a credential's chain as PEM,
// for openssl's -CAfile; it also returns the signer's common name.
func (s *cscServer) credentialRoot(t *testing.T, cred string) (string, string) {
	t.Helper()
	certs := s.credentialChain(t, cred)
	path := filepath.Join(t.TempDir(), "root.pem")
	writeFile(t, path, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[len(certs)-1].Raw})))
	return path, certs[0].Subject.CommonName
}

// sendOTP has the service text a code and returns it in a file, as the
// holder would copy it from the phone.
func (s *cscServer) sendOTP(t *testing.T, tokenFile, cred string) string {
	t.Helper()
	mustRunSelo(t, "csc", "send-otp", cred, "--token-file", tokenFile)
	return writeFile(t, filepath.Join(t.TempDir(), "otp"), s.smsCode(t)+"\n")
}

// authenticatorCode enrolls an authenticator app for the holder and returns
// the code it shows now.
func (s *cscServer) authenticatorCode(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	enr, err := s.svc.EnrollAuthenticator(ctx, s.acct.ID, "phone", signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(enr.URI)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(u.Query().Get("secret")))
	if err != nil {
		t.Fatal(err)
	}
	p := approval.OTPParams{Algorithm: approval.Algorithm(u.Query().Get("algorithm")), Digits: 6, Period: 30 * time.Second}
	if err := s.svc.ConfirmAuthenticator(ctx, s.acct.ID, enr.Authenticator.ID, approval.TOTP(secret, time.Now().Add(-30*time.Second), p)); err != nil {
		t.Fatal(err)
	}
	return approval.TOTP(secret, time.Now(), p)
}

// registerWallet enrolls a wallet app for the holder, as the phone does after
// scanning the enrollment QR code, and returns it with the app's key.
func (s *cscServer) registerWallet(t *testing.T) (*selo.Wallet, *ecdsa.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	offer, err := s.svc.StartWalletEnrollment(ctx, s.acct.ID, signing.FactorProof{IdentityCheckedBy: "operator:test"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := approval.ParseWalletEnrollmentURI(offer.URI)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg, err := approval.NewWalletRegistration(enr, "phone", key)
	if err != nil {
		t.Fatal(err)
	}
	wallet, err := s.svc.RegisterWallet(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	return wallet, key
}

// approveInWallet waits (30 s at most) for a request to reach the wallet,
// approves the first one with the app's key and returns what the wallet
// showed.
func (s *cscServer) approveInWallet(t *testing.T, wallet *selo.Wallet, key *ecdsa.PrivateKey) []*approval.WalletChallenge {
	t.Helper()
	ctx := context.Background()
	var pending []*approval.WalletChallenge
	var err error
	for deadline := time.Now().Add(30 * time.Second); len(pending) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no request reached the wallet")
		}
		if pending, err = s.svc.PendingApprovals(ctx, wallet); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := approval.SignWalletDecision(pending[0], true, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.svc.DecideWalletApproval(ctx, pending[0].ApprovalID, wallet.ID, true, sig); err != nil {
		t.Fatal(err)
	}
	return pending
}
