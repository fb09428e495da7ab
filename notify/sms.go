package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// Defaults of HTTPSMSConfig.
const (
	// DefaultSMSTimeout bounds one request to the gateway.
	DefaultSMSTimeout = 10 * time.Second
	// DefaultSMSBackoff is the wait before the first retry; it doubles
	// before each next one.
	DefaultSMSBackoff = 500 * time.Millisecond
	// smsAttempts is how many times a message is tried: once and three retries.
	smsAttempts = 4
)

// HTTPSMSConfig configures an HTTP SMS gateway that takes
// POST {"to":..., "from":..., "text":...} with a bearer token.
type HTTPSMSConfig struct {
	// URL is the gateway's endpoint. It must be https, except on a loopback host.
	URL string
	// Token is sent as "Authorization: Bearer TOKEN".
	Token string
	// From is the sender name or number the gateway shows, if it lets us choose.
	From string
	// Timeout bounds each attempt (DefaultSMSTimeout when 0).
	Timeout time.Duration
	// Client sends the requests; nil uses a client of its own.
	Client *http.Client
	// Backoff is the wait before the first retry, doubled before each next
	// one (DefaultSMSBackoff when 0).
	Backoff time.Duration
}

// HTTPSMS sends text messages through an HTTP gateway. A 2xx answer means
// sent; a 5xx answer or a network error is retried up to three times with
// exponential backoff; any other answer is an error at once. Every attempt
// of one message carries the same Idempotency-Key header, so a gateway that
// honours it sends the message once even when an answer was lost. It
// implements selo.SMSSender and never logs or returns the text.
type HTTPSMS struct {
	url     string
	token   string
	from    string
	timeout time.Duration
	backoff time.Duration
	client  *http.Client
}

var _ selo.SMSSender = (*HTTPSMS)(nil)

// NewHTTPSMS checks cfg and returns a sender over it.
func NewHTTPSMS(cfg HTTPSMSConfig) (*HTTPSMS, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, selo.Errorf(selo.EINVALID, "SMS gateway URL %q must be an absolute https:// URL", truncate(cfg.URL, 200))
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return nil, selo.Errorf(selo.EINVALID, "SMS gateway URL must be https (plain http only to localhost): the token and the codes must not cross the network in clear")
	}
	if u.User != nil {
		return nil, selo.Errorf(selo.EINVALID, "SMS gateway URL must not hold credentials: set the token instead")
	}
	if cfg.Token == "" {
		return nil, selo.Errorf(selo.EINVALID, "the SMS gateway needs a token")
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return nil, selo.Errorf(selo.EINVALID, "the SMS gateway token must not contain a line break")
	}
	s := &HTTPSMS{url: u.String(), token: cfg.Token, from: cfg.From, timeout: cfg.Timeout, backoff: cfg.Backoff, client: cfg.Client}
	if s.timeout <= 0 {
		s.timeout = DefaultSMSTimeout
	}
	if s.backoff <= 0 {
		s.backoff = DefaultSMSBackoff
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	return s, nil
}

// smsRequest is the gateway's request body.
type smsRequest struct {
	To   string `json:"to"`
	From string `json:"from"`
	Text string `json:"text"`
}

// SendSMS sends text to the E.164 number to.
func (s *HTTPSMS) SendSMS(ctx context.Context, to, text string) error {
	if err := ValidateSMS(to, text); err != nil {
		return err
	}
	body, err := json.Marshal(smsRequest{To: to, From: s.from, Text: text})
	if err != nil {
		return fmt.Errorf("encode SMS request: %w", err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails on supported platforms
	idempotencyKey := hex.EncodeToString(key[:])
	wait := s.backoff
	var lastErr error
	for attempt := 1; attempt <= smsAttempts; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("SMS gateway: gave up after %d attempts (%v): %w", attempt-1, lastErr, ctx.Err())
			case <-t.C:
			}
			wait *= 2
		}
		retry, err := s.attempt(ctx, body, idempotencyKey)
		if err == nil {
			return nil
		}
		if !retry || ctx.Err() != nil {
			return err
		}
		lastErr = err
	}
	return fmt.Errorf("SMS gateway: gave up after %d attempts: %w", smsAttempts, lastErr)
}

// attempt posts the message once and says whether a failure is worth
// another try.
func (s *HTTPSMS) attempt(ctx context.Context, body []byte, idempotencyKey string) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("SMS gateway request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Idempotency-Key", idempotencyKey)
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error names the URL and the cause, never the body or the token.
		return true, fmt.Errorf("SMS gateway: %w", err)
	}
	// Drain a little so the connection can be reused; the answer itself is
	// not read into errors, since a gateway may echo the text back.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500:
		return true, fmt.Errorf("SMS gateway answered %s", resp.Status)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// The operator's configuration is wrong, not the holder's request:
		// an internal error, logged, not shown.
		return false, fmt.Errorf("the SMS gateway refused Selo's token (%s): check SELO_SMS_GATEWAY_TOKEN", resp.Status)
	default:
		return false, selo.Errorf(selo.EINVALID, "the SMS gateway refused the message (%s)", resp.Status)
	}
}
