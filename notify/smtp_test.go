package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/selo-qtsp/selo"
)

// received is one message a test SMTP server accepted.
type received struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	User string
}

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) on the
// loopback interface, recording what it accepts.
type smtpServer struct {
	Addr  string
	Roots *x509.CertPool // trusts the server's certificate

	mu       sync.Mutex
	messages []received

	user, password string
	refuse         map[string]bool // recipients answered 550
}

type smtpOptions struct {
	implicitTLS bool // TLS from the first byte
	noTLS       bool // no STARTTLS offered
	user, pass  string
	refuse      []string
}

func startSMTP(t *testing.T, opts smtpOptions) *smtpServer {
	t.Helper()
	ts := &smtpServer{user: opts.user, password: opts.pass, refuse: map[string]bool{}}
	for _, r := range opts.refuse {
		ts.refuse[r] = true
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &smtpSession{srv: ts, tls: isTLS, conn: c}, nil
	}))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = discardLogger{}
	if !opts.noTLS {
		cert, roots := selfSigned(t, "localhost")
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		ts.Roots = roots
	}
	var ln net.Listener
	var err error
	if opts.implicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.Addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ts
}

func (ts *smtpServer) received() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.messages...)
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	tls  bool
	user string
	msg  received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.user || password != s.srv.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		s.user = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.msg.From = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.refuse[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.User = s.user
	s.srv.mu.Lock()
	s.srv.messages = append(s.srv.messages, s.msg)
	s.srv.mu.Unlock()
	s.msg = received{}
	return nil
}

func (s *smtpSession) Reset()        { s.msg = received{} }
func (s *smtpSession) Logout() error { return nil }

// selfSigned returns a TLS certificate for host and a pool trusting it.
func selfSigned(t *testing.T, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func TestSMTPDeliversOverSTARTTLSWithLogin(t *testing.T) {
	srv := startSMTP(t, smtpOptions{user: "selo", pass: "s3cret"})
	date := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	m, err := NewSMTP(SMTPConfig{
		Addr: srv.Addr, From: "Selo <noreply@example.eu>", Username: "selo", Password: "s3cret",
		TLSConfig: &tls.Config{RootCAs: srv.Roots, ServerName: "localhost"}, Clock: fixedClock{date},
	})
	if err != nil {
		t.Fatal(err)
	}
	mail := selo.Email{To: "ana.silva@example.pt", Subject: "Certificado pronto — encomenda SO-2026-K7Q2",
		Body: "Olá Ana,\n\nO seu código é 123-456.\nNúmero da encomenda: SO-2026-K7Q2\n"}
	if err := m.SendEmail(context.Background(), mail); err != nil {
		t.Fatalf("send: %v", err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	r := got[0]
	if !r.TLS || r.User != "selo" {
		t.Errorf("delivered with TLS %v as user %q; want TLS as selo", r.TLS, r.User)
	}
	if r.From != "noreply@example.eu" || len(r.To) != 1 || r.To[0] != mail.To {
		t.Errorf("envelope from %q to %v", r.From, r.To)
	}
	checkMessage(t, r.Data, mail, `"Selo" <noreply@example.eu>`, date)
}

func TestSMTPImplicitTLS(t *testing.T) {
	srv := startSMTP(t, smtpOptions{implicitTLS: true})
	m, err := NewSMTP(SMTPConfig{Addr: srv.Addr, From: "noreply@example.eu", Security: SecurityTLS,
		TLSConfig: &tls.Config{RootCAs: srv.Roots, ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendEmail(context.Background(), selo.Email{To: "a@example.pt", Subject: "s", Body: "b"}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got := srv.received(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("received %+v, want one message over TLS", got)
	}
}

func TestSMTPRefusals(t *testing.T) {
	mail := selo.Email{To: "ana@example.pt", Subject: "s", Body: "b"}
	t.Run("server without STARTTLS", func(t *testing.T) {
		srv := startSMTP(t, smtpOptions{noTLS: true})
		m, err := NewSMTP(SMTPConfig{Addr: srv.Addr, From: "noreply@example.eu"})
		if err != nil {
			t.Fatal(err)
		}
		err = m.SendEmail(context.Background(), mail)
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
			t.Fatalf("err %v, want a refusal to send in plain text", err)
		}
		if n := len(srv.received()); n != 0 {
			t.Fatalf("%d messages went out in plain text", n)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := startSMTP(t, smtpOptions{})
		m, err := NewSMTP(SMTPConfig{Addr: srv.Addr, From: "noreply@example.eu",
			TLSConfig: &tls.Config{ServerName: "localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		var unknown x509.UnknownAuthorityError
		if err := m.SendEmail(context.Background(), mail); !errors.As(err, &unknown) {
			t.Fatalf("err %v, want an unknown-authority TLS error", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := startSMTP(t, smtpOptions{user: "selo", pass: "right"})
		m, err := NewSMTP(SMTPConfig{Addr: srv.Addr, From: "noreply@example.eu", Username: "selo", Password: "wrong",
			TLSConfig: &tls.Config{RootCAs: srv.Roots, ServerName: "localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		err = m.SendEmail(context.Background(), mail)
		if err == nil || !strings.Contains(err.Error(), "refused the login of selo") || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err %v, want a login refusal that does not quote the password", err)
		}
		if selo.ErrorCode(err) == selo.EINVALID {
			t.Fatalf("a login refusal is the operator's configuration, not the caller's input: %v", err)
		}
	})
	t.Run("recipient refused", func(t *testing.T) {
		srv := startSMTP(t, smtpOptions{refuse: []string{"ghost@example.pt"}})
		m, err := NewSMTP(SMTPConfig{Addr: srv.Addr, From: "noreply@example.eu",
			TLSConfig: &tls.Config{RootCAs: srv.Roots, ServerName: "localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		err = m.SendEmail(context.Background(), selo.Email{To: "ghost@example.pt", Subject: "s", Body: "b"})
		if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "550") {
			t.Fatalf("err %v, want EINVALID quoting the 550", err)
		}
	})
	t.Run("plain text to a relay on localhost", func(t *testing.T) {
		srv := startSMTP(t, smtpOptions{noTLS: true})
		m, err := NewSMTP(SMTPConfig{Addr: srv.Addr, From: "noreply@example.eu", Security: SecurityNone})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SendEmail(context.Background(), mail); err != nil {
			t.Fatal(err)
		}
		if got := srv.received(); len(got) != 1 || got[0].TLS {
			t.Fatalf("received %+v, want one plain-text message", got)
		}
	})
	t.Run("plain text elsewhere", func(t *testing.T) {
		_, err := NewSMTP(SMTPConfig{Addr: "smtp.example.eu:25", From: "noreply@example.eu", Security: SecurityNone})
		if selo.ErrorCode(err) != selo.EINVALID {
			t.Fatalf("err %v, want EINVALID", err)
		}
	})
	t.Run("server gone", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		m, err := NewSMTP(SMTPConfig{Addr: addr, From: "noreply@example.eu", Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SendEmail(context.Background(), mail); err == nil || selo.ErrorCode(err) == selo.EINVALID {
			t.Fatalf("err %v, want an internal connection error", err)
		}
	})
}
