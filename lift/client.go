package lift

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// LiftCodeHeader carries the order's "ready to lift" code on every request
// (server.LiftCodeHeader); the code never goes in the URL.
const LiftCodeHeader = "X-Selo-Lift-Code"

// Steps the server reports (registration.Step*): what the client does next.
const (
	StepVerifyEmail = "verify_email"
	StepSubmitKey   = "submit_key"
	StepIssue       = "issue"
	StepFetch       = "fetch"
	StepDone        = "done"
)

// Deliveries of an order (selo.Delivery*).
const (
	DeliverySoftware = "software"
	DeliveryToken    = "token"
	DeliveryCloud    = "cloud"
)

// maxResponseBytes bounds what the client reads of one answer: a certificate
// and its chain are a few kilobytes.
const maxResponseBytes = 1 << 20

// maxRetryWait bounds how long the client waits on one 429 answer; a
// longer Retry-After is returned as the error instead.
const maxRetryWait = 30 * time.Second

// Status is where an order's lift stands, as the server reports it.
type Status struct {
	Number            string   `json:"number"`
	State             string   `json:"state"`
	Step              string   `json:"step"`
	Delivery          string   `json:"delivery"`
	Profile           string   `json:"profile"`
	KeyTypes          []string `json:"key_types"`
	MinRSABits        int      `json:"min_rsa_bits,omitempty"`
	PublicKeySHA256   string   `json:"public_key_sha256,omitempty"`
	CertificateSerial string   `json:"certificate_serial,omitempty"`
	// CredentialID and AccountPasswordSet describe an issued cloud order's
	// signing credential and whether its account has a password yet.
	CredentialID       string `json:"credential_id,omitempty"`
	AccountPasswordSet bool   `json:"account_password_set,omitempty"`
}

// Certificate is the order's certificate with its chain (issuing CA first,
// root last).
type Certificate struct {
	Serial string
	Leaf   *x509.Certificate
	Chain  []*x509.Certificate
	// RevocationCode is set only by the Issue call that made the
	// certificate: the code that revokes it without the key, shown once.
	RevocationCode string
}

// Client calls a Selo server's lift endpoints for one order. It is safe for
// concurrent use.
type Client struct {
	base     string
	number   string
	liftCode string
	http     *http.Client
	sleep    func(context.Context, time.Duration) error
}

// ClientOption tunes a Client.
type ClientOption func(*Client)

// WithHTTPClient sends requests through hc (timeouts, TLS roots, proxies).
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.http = hc } }

// NewClient returns a client of the server at baseURL (e.g.
// "https://ra.example.eu") for order number, authenticated by liftCode.
func NewClient(baseURL, number, liftCode string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, selo.Errorf(selo.EINVALID, "%q is not an http(s) server URL", baseURL)
	}
	if err := CheckOrderNumber(number); err != nil {
		return nil, err
	}
	if strings.TrimSpace(liftCode) == "" {
		return nil, selo.Errorf(selo.EINVALID, "the order's code (from the \"ready to lift\" e-mail) is required")
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), number: number, liftCode: liftCode,
		http: &http.Client{Timeout: 2 * time.Minute}, sleep: sleepContext}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// CheckOrderNumber refuses what cannot be an order number: it names files
// and a URL path segment, so only letters, digits and dashes pass.
func CheckOrderNumber(number string) error {
	if number == "" || len(number) > 64 {
		return selo.Errorf(selo.EINVALID, "an order number has 1 to 64 characters, e.g. SO-2026-K7Q2M9XD")
	}
	for _, r := range number {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return selo.Errorf(selo.EINVALID, "an order number holds only letters, digits and dashes, e.g. SO-2026-K7Q2M9XD")
		}
	}
	return nil
}

// Status reports where the lift stands, sending nothing to the holder.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodGet, "status", nil, &st)
}

// Start checks the order and code; while the e-mail is unverified it makes
// the server e-mail a new verification code (replacing the last one).
func (c *Client) Start(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodPost, "start", nil, &st)
}

// VerifyEmail sends the e-mailed verification code.
func (c *Client) VerifyEmail(ctx context.Context, code string) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodPost, "verify-email", map[string]string{"code": code}, &st)
}

// SubmitKey sends the holder's CSR (DER); nil for cloud delivery, where the
// server makes the key.
func (c *Client) SubmitKey(ctx context.Context, csrDER []byte) (*Status, error) {
	var st Status
	body := map[string]string{}
	if len(csrDER) > 0 {
		body["csr"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}))
	}
	return &st, c.do(ctx, http.MethodPost, "key", body, &st)
}

// Issue asks for the certificate; a repeat returns the same one.
func (c *Client) Issue(ctx context.Context) (*Certificate, error) {
	return c.certificate(ctx, http.MethodPost, "issue")
}

// Certificate fetches the issued certificate and its chain.
func (c *Client) Certificate(ctx context.Context) (*Certificate, error) {
	return c.certificate(ctx, http.MethodGet, "certificate")
}

// SetAccountPassword sets the first password of the account an issued
// cloud order opened (refused when it has one).
func (c *Client) SetAccountPassword(ctx context.Context, password string) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodPost, "account", map[string]string{"password": password}, &st)
}

// ConfirmDelivery records that the holder has the certificate.
func (c *Client) ConfirmDelivery(ctx context.Context) (*Status, error) {
	var st Status
	return &st, c.do(ctx, http.MethodPost, "delivered", nil, &st)
}

func (c *Client) certificate(ctx context.Context, method, step string) (*Certificate, error) {
	var wire struct {
		Serial         string `json:"serial"`
		CertificatePEM string `json:"certificate_pem"`
		ChainPEM       string `json:"chain_pem"`
		RevocationCode string `json:"revocation_code"`
	}
	if err := c.do(ctx, method, step, nil, &wire); err != nil {
		return nil, err
	}
	cert, err := ParseCertificate(wire.Serial, []byte(wire.CertificatePEM), []byte(wire.ChainPEM))
	if err != nil {
		return nil, err
	}
	cert.RevocationCode = wire.RevocationCode
	return cert, nil
}

// ParseCertificate reads the server's certificate answer: one certificate
// in leafPEM whose serial is serial (hex), and one or more in chainPEM.
func ParseCertificate(serial string, leafPEM, chainPEM []byte) (*Certificate, error) {
	leaf, err := parsePEMCertificates(leafPEM)
	if err != nil || len(leaf) != 1 {
		return nil, selo.Errorf(selo.EINVALID, "the server's answer does not hold exactly one certificate")
	}
	chain, err := parsePEMCertificates(chainPEM)
	if err != nil || len(chain) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "the server's answer does not hold the certificate's chain")
	}
	if got := fmt.Sprintf("%x", leaf[0].SerialNumber); !strings.EqualFold(strings.TrimLeft(serial, "0"), strings.TrimLeft(got, "0")) {
		return nil, selo.Errorf(selo.EINVALID, "the server's answer names serial %.40q but holds certificate %s", serial, got)
	}
	return &Certificate{Serial: serial, Leaf: leaf[0], Chain: chain}, nil
}

func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		return nil, errors.New("trailing data after the certificates")
	}
	return out, nil
}

// do calls step of the order with body as JSON (nil: no body) and decodes
// the answer into out. An error answer becomes a *selo.Error with the
// server's code and message; a 429 is retried after its Retry-After.
func (c *Client) do(ctx context.Context, method, step string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("lift: encode %s: %w", step, err)
		}
	}
	for attempt := 0; ; attempt++ {
		wait, err := c.once(ctx, method, step, payload, out)
		if wait <= 0 || attempt >= 3 {
			return err
		}
		if err := c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// once makes one request. A 429 with a short Retry-After returns how long
// to wait before trying again.
func (c *Client) once(ctx context.Context, method, step string, payload []byte, out any) (time.Duration, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1/lift/"+url.PathEscape(c.number)+"/"+step, rd)
	if err != nil {
		return 0, fmt.Errorf("lift: %s: %w", step, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(LiftCodeHeader, c.liftCode)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the server at %s: %w", c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, selo.Errorf(selo.EINTERNAL, "the server's answer to %s broke off: %v", step, err)
	}
	if len(b) > maxResponseBytes {
		return 0, selo.Errorf(selo.EINTERNAL, "the server's answer to %s is larger than %d bytes", step, maxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		e := answerError(resp.StatusCode, b)
		if resp.StatusCode == http.StatusTooManyRequests {
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 && time.Duration(secs)*time.Second <= maxRetryWait {
				return max(time.Duration(secs)*time.Second, 100*time.Millisecond), e
			}
		}
		return 0, e
	}
	if err := json.Unmarshal(b, out); err != nil {
		return 0, selo.Errorf(selo.EINTERNAL, "the server's answer to %s is not the JSON expected: %v", step, err)
	}
	return 0, nil
}

// answerError turns an error answer into a *selo.Error carrying the
// server's code and message, so that selo.ErrorCode works on it.
func answerError(status int, body []byte) error {
	var wire struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &wire) != nil || wire.Error.Code == "" {
		return selo.Errorf(selo.EINTERNAL, "the server answered %d %s", status, http.StatusText(status))
	}
	msg := wire.Error.Message
	if wire.Error.Code == selo.EINTERNAL && wire.Error.RequestID != "" {
		msg += " (request " + wire.Error.RequestID + ")"
	}
	return &selo.Error{Code: wire.Error.Code, Message: msg}
}

func unwrapURLError(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewCodeAnswer is the server's answer to RequestNewCode: the same whether
// or not the order number and renewal code were right.
type NewCodeAnswer struct {
	Message string `json:"message"`
}

// RequestNewCode asks the server to e-mail the holder a new lift code for
// the order, proven by the renewal code of the "ready to lift" e-mail. The
// answer does not say whether number and renewal code were right: the new
// code arrives by e-mail, or not at all.
func RequestNewCode(ctx context.Context, baseURL, number, renewalCode string) (*NewCodeAnswer, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, selo.Errorf(selo.EINVALID, "%q is not an http(s) server URL", baseURL)
	}
	if err := CheckOrderNumber(number); err != nil {
		return nil, err
	}
	if strings.TrimSpace(renewalCode) == "" {
		return nil, selo.Errorf(selo.EINVALID, "the renewal code (from the \"ready to lift\" e-mail) is required")
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), number: number, http: &http.Client{Timeout: 2 * time.Minute}, sleep: sleepContext}
	var out NewCodeAnswer
	return &out, c.do(ctx, http.MethodPost, "new-code", map[string]string{"renewal_code": renewalCode}, &out)
}

// Revocation is the server's answer to RevokeWithCode.
type Revocation struct {
	Serial    string    `json:"serial"`
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
	Created   bool      `json:"created"`
}

// RevokeWithCode revokes a certificate with the revocation code shown when
// it was issued, for a holder who lost the key (POST
// /api/v1/holder/revoke-with-code). reason is a holder's RFC 5280 reason
// name, "" for unspecified.
func RevokeWithCode(ctx context.Context, baseURL, serial, code, reason string) (*Revocation, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, selo.Errorf(selo.EINVALID, "%q is not an http(s) server URL", baseURL)
	}
	body, err := json.Marshal(map[string]string{"serial": serial, "reason": reason, "revocation_code": code})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/api/v1/holder/revoke-with-code", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the server at %s: %w", baseURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, answerError(resp.StatusCode, b)
	}
	var out Revocation
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, selo.Errorf(selo.EINTERNAL, "the server's answer is not the JSON expected: %v", err)
	}
	return &out, nil
}
