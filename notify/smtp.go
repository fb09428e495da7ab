package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// The connection security of an SMTP submission.
const (
	// SecuritySTARTTLS connects in plain text and upgrades with STARTTLS
	// before anything else is said; a server that does not offer it is
	// refused. The default, for port 587.
	SecuritySTARTTLS = "starttls"
	// SecurityTLS speaks TLS from the first byte (implicit TLS, port 465).
	SecurityTLS = "tls"
	// SecurityNone sends in plain text: only to a relay on the loopback
	// interface.
	SecurityNone = "none"
)

// DefaultSMTPTimeout bounds one whole submission when SMTPConfig.Timeout is 0.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig configures delivery through an SMTP submission server.
type SMTPConfig struct {
	// Addr is the server's host:port, e.g. "smtp.example.eu:587".
	Addr string
	// From is the sender: "noreply@example.eu" or "Selo <noreply@example.eu>".
	From string
	// Username and Password log in with AUTH PLAIN, only ever over TLS.
	// No login when Username is empty.
	Username string
	Password string
	// Security is SecuritySTARTTLS (the default when empty), SecurityTLS or
	// SecurityNone (refused unless Addr is a loopback host).
	Security string
	// Timeout bounds one whole submission (DefaultSMTPTimeout when 0).
	Timeout time.Duration
	// TLSConfig is used for TLS and STARTTLS (for example to trust a private
	// CA); nil verifies the server against the system roots. ServerName
	// defaults to Addr's host.
	TLSConfig *tls.Config
	// Clock dates the messages (the Date header); nil is the system clock.
	Clock selo.Clock
}

// SMTP delivers e-mail through an SMTP submission server, one connection per
// message. It implements selo.Mailer, is safe for concurrent use, and never
// logs or returns a message's body.
type SMTP struct {
	addr, host    string
	from          *mail.Address
	fromDomain    string
	username      string
	password      string
	security      string
	timeout       time.Duration
	tlsConfig     *tls.Config
	clock         selo.Clock
	dialer        net.Dialer
	formattedFrom string
}

var _ selo.Mailer = (*SMTP)(nil)

// NewSMTP checks cfg and returns a mailer over it. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, selo.Errorf(selo.EINVALID, "SMTP server address %q must be host:port, such as smtp.example.eu:587", cfg.Addr)
	}
	if strings.ContainsAny(cfg.From, "\r\n") {
		return nil, selo.Errorf(selo.EINVALID, "the SMTP sender must not contain a line break")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "SMTP sender %q is not an e-mail address such as noreply@example.eu", cfg.From)
	}
	if err := ValidateEmailAddress(from.Address); err != nil {
		return nil, selo.Errorf(selo.EINVALID, "SMTP sender: %s", selo.ErrorMessage(err))
	}
	s := &SMTP{
		addr: cfg.Addr, host: host, from: from, username: cfg.Username, password: cfg.Password,
		security: cfg.Security, timeout: cfg.Timeout, clock: cfg.Clock, formattedFrom: from.String(),
	}
	_, s.fromDomain, _ = strings.Cut(from.Address, "@")
	if s.security == "" {
		s.security = SecuritySTARTTLS
	}
	switch s.security {
	case SecuritySTARTTLS, SecurityTLS:
	case SecurityNone:
		if !isLoopbackHost(host) {
			return nil, selo.Errorf(selo.EINVALID, "SMTP without TLS is allowed only to a relay on this machine (localhost), not %s: use starttls or tls", host)
		}
		if cfg.Username != "" {
			return nil, selo.Errorf(selo.EINVALID, "SMTP login needs TLS: use starttls or tls, or no username")
		}
	default:
		return nil, selo.Errorf(selo.EINVALID, "unknown SMTP security %q: use starttls, tls or none", cfg.Security)
	}
	if cfg.Username != "" && cfg.Password == "" {
		return nil, selo.Errorf(selo.EINVALID, "an SMTP username needs a password")
	}
	if s.timeout <= 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if s.clock == nil {
		s.clock = selo.SystemClock{}
	}
	if cfg.TLSConfig != nil {
		s.tlsConfig = cfg.TLSConfig.Clone()
	} else {
		s.tlsConfig = &tls.Config{}
	}
	if s.tlsConfig.ServerName == "" {
		s.tlsConfig.ServerName = host
	}
	if s.tlsConfig.MinVersion < tls.VersionTLS12 {
		s.tlsConfig.MinVersion = tls.VersionTLS12
	}
	return s, nil
}

// isLoopbackHost reports whether host names this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SendEmail submits m: connect, secure the connection, log in, MAIL, RCPT,
// DATA, QUIT. A recipient the server refuses is an EINVALID error that quotes
// the server's answer; any other failure is an internal error that names the
// step.
func (s *SMTP) SendEmail(ctx context.Context, m selo.Email) error {
	if err := ValidateEmail(m); err != nil {
		return err
	}
	msg, err := buildMessage(s.formattedFrom, s.fromDomain, m, s.clock.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.submit(c, m.To, msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smtp %s: %w", s.addr, ctx.Err())
		}
		return err
	}
	return nil
}

// connect dials the server and brings the session to the point where MAIL
// may be sent: greeted, secured and logged in. Cancelling ctx closes the
// connection, which ends whatever step is waiting.
func (s *SMTP) connect(ctx context.Context) (*smtp.Client, error) {
	var conn net.Conn
	var err error
	if s.security == SecurityTLS {
		d := tls.Dialer{NetDialer: &s.dialer, Config: s.tlsConfig}
		conn, err = d.DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = s.dialer.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("smtp: connect to %s: %w", s.addr, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		stop()
		conn.Close()
		return nil, fmt.Errorf("smtp: greeting from %s: %w", s.addr, err)
	}
	fail := func(err error) (*smtp.Client, error) {
		c.Close()
		return nil, err
	}
	if err := c.Hello(s.fromDomain); err != nil {
		return fail(fmt.Errorf("smtp: EHLO to %s: %w", s.addr, err))
	}
	if s.security == SecuritySTARTTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail(fmt.Errorf("smtp: the server %s does not offer STARTTLS; Selo does not send mail in plain text (use security tls, or none for a relay on localhost)", s.addr))
		}
		if err := c.StartTLS(s.tlsConfig); err != nil {
			return fail(fmt.Errorf("smtp: STARTTLS with %s: %w", s.addr, err))
		}
	}
	if s.username != "" {
		if _, ok := c.TLSConnectionState(); !ok {
			return fail(fmt.Errorf("smtp: login to %s needs TLS", s.addr))
		}
		if ok, mechs := c.Extension("AUTH"); !ok || !hasWord(mechs, "PLAIN") {
			return fail(fmt.Errorf("smtp: the server %s does not offer AUTH PLAIN (it offers %q)", s.addr, mechs))
		}
		if err := c.Auth(plainAuth{username: s.username, password: s.password}); err != nil {
			var tp *textproto.Error
			if errors.As(err, &tp) && tp.Code == 535 {
				// A configuration mistake of the operator's: internal, logged.
				return fail(fmt.Errorf("smtp: the server %s refused the login of %s: %d %s", s.addr, s.username, tp.Code, tp.Msg))
			}
			return fail(fmt.Errorf("smtp: AUTH with %s: %w", s.addr, err))
		}
	}
	return c, nil
}

func (s *SMTP) submit(c *smtp.Client, to string, msg []byte) error {
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM %s to %s: %w", s.from.Address, s.addr, err)
	}
	if err := c.Rcpt(to); err != nil {
		return s.recipientRefused(to, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp: DATA to %s: %w", s.addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp: send message to %s: %w", s.addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp: message to %s not accepted: %w", s.addr, err)
	}
	// The message is accepted; a failed QUIT changes nothing about that.
	_ = c.Quit()
	return nil
}

// recipientRefused turns a permanent (5xx) refusal of the recipient into an
// EINVALID error that quotes the server, since the address is the caller's to
// fix; a transient answer or a network error stays an internal error.
func (s *SMTP) recipientRefused(to string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 && tp.Code < 600 {
		return selo.Errorf(selo.EINVALID, "the mail server refused the recipient %s: %d %s", to, tp.Code, truncate(tp.Msg, 200))
	}
	return fmt.Errorf("smtp: RCPT TO %s at %s: %w", to, s.addr, err)
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// plainAuth is SASL PLAIN (RFC 4616). Unlike net/smtp.PlainAuth it refuses a
// connection without TLS even to localhost: the caller checks TLS before, and
// this checks again so the password can never leave in clear.
type plainAuth struct {
	username, password string
}

func (a plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS {
		return "", nil, errors.New("refusing AUTH PLAIN without TLS")
	}
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a plainAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge during AUTH PLAIN")
	}
	return nil, nil
}
