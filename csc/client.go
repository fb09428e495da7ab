package csc

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo/csc/internal/flatjson"
)

// maxResponseBytes bounds what the client reads of one answer: a signHash of
// 1000 RSA-4096 signatures is under 700 KB.
const maxResponseBytes = 4 << 20

// Client calls a CSC API v2 service. It is safe for concurrent use once
// logged in; Login and Revoke change the access token it sends.
type Client struct {
	base string
	http *http.Client

	mu    sync.Mutex
	token string
}

// ClientOption tunes a Client.
type ClientOption func(*Client)

// WithHTTPClient sends requests through hc (timeouts, TLS roots, proxies).
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.http = hc } }

// WithAccessToken starts the client with an access token got earlier.
func WithAccessToken(token string) ClientOption { return func(c *Client) { c.token = token } }

// defaultTransport is the clients' transport unless WithHTTPClient says
// otherwise: net/http's default, but keeping up to 64 idle connections to
// the service instead of 2, so that an integrator's concurrent signHash
// calls reuse their connections rather than dial (and TLS-handshake) one
// per call, and with buffers that hold a batch of signatures in one read.
var defaultTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.ReadBufferSize = 64 << 10
	t.WriteBufferSize = 64 << 10
	return t
}()

// NewClient returns a client of the service whose CSC base URL is baseURL,
// e.g. "https://sign.example.eu/csc/v2".
func NewClient(baseURL string, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("csc: %q is not an http(s) base URL", baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{Timeout: 2 * time.Minute, Transport: defaultTransport}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// AccessToken returns the token the client sends ("" before Login).
func (c *Client) AccessToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// call POSTs in as JSON to method and decodes the answer into out (nil:
// expect no body). A CSC error answer is returned as *Error.
func (c *Client) call(ctx context.Context, method string, in, out any, auth func(*http.Request)) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("csc: encode %s: %w", method, err)
	}
	b, err := c.post(ctx, method, body, auth)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("csc: %s: decode answer: %w", method, err)
	}
	return nil
}

// post sends one JSON body to method and returns the body of a successful
// answer; an error answer becomes an *Error.
func (c *Client) post(ctx context.Context, method string, body []byte, auth func(*http.Request)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("csc: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if auth != nil {
		auth(req)
	} else if t := c.AccessToken(); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("csc: %s: %w", method, err)
	}
	defer resp.Body.Close()
	var b []byte
	if n := resp.ContentLength; n > 0 && n <= maxResponseBytes {
		// One buffer of the announced size (and a byte more, which a
		// well-behaved server never fills).
		b = make([]byte, n+1)
		var k int
		k, err = io.ReadFull(resp.Body, b)
		b = b[:k]
		if (err == io.ErrUnexpectedEOF || err == io.EOF) && int64(k) >= n {
			err = nil // the whole announced answer
		} else if err == nil || err == io.ErrUnexpectedEOF || err == io.EOF {
			err = io.ErrUnexpectedEOF // shorter than announced
		}
	} else {
		b, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	}
	if err != nil {
		return nil, fmt.Errorf("csc: %s: read answer: %w", method, err)
	}
	if len(b) > maxResponseBytes {
		return nil, fmt.Errorf("csc: %s: answer larger than %d bytes", method, maxResponseBytes)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, e) != nil || e.Name == "" {
			e.Name, e.Description = ErrServerError, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, truncate(strings.TrimSpace(string(b)), 200))
		}
		return nil, e
	}
	return b, nil
}

// Info returns what the service says about itself.
func (c *Client) Info(ctx context.Context) (*InfoResponse, error) {
	var out InfoResponse
	return &out, c.call(ctx, "info", struct{}{}, &out, func(*http.Request) {})
}

// Login authenticates with the holder's e-mail and password (HTTP Basic)
// and keeps the access token for the calls that follow.
func (c *Client) Login(ctx context.Context, email, password string) (*LoginResponse, error) {
	var out LoginResponse
	err := c.call(ctx, "auth/login", LoginRequest{}, &out, func(r *http.Request) { r.SetBasicAuth(email, password) })
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.token = out.AccessToken
	c.mu.Unlock()
	return &out, nil
}

// Revoke ends the session of the client's access token.
func (c *Client) Revoke(ctx context.Context) error {
	if err := c.call(ctx, "auth/revoke", RevokeRequest{}, nil, nil); err != nil {
		return err
	}
	c.mu.Lock()
	c.token = ""
	c.mu.Unlock()
	return nil
}

// ListCredentials returns the holder's credentials with their details and
// certificate chains.
func (c *Client) ListCredentials(ctx context.Context) (*CredentialsListResponse, error) {
	var out CredentialsListResponse
	return &out, c.call(ctx, "credentials/list", CredentialsListRequest{CredentialInfo: true, Certificates: "chain", CertInfo: true, AuthInfo: true}, &out, nil)
}

// CredentialInfo returns one credential: key, certificate chain, approval.
func (c *Client) CredentialInfo(ctx context.Context, credentialID string) (*CredentialDetail, error) {
	var out CredentialDetail
	return &out, c.call(ctx, "credentials/info", CredentialsInfoRequest{CredentialID: credentialID, Certificates: "chain", CertInfo: true, AuthInfo: true}, &out, nil)
}

// SendOTP asks the service to text the holder a one-time code (credentials
// approved by SMS).
func (c *Client) SendOTP(ctx context.Context, credentialID string) error {
	return c.call(ctx, "credentials/sendOTP", SendOTPRequest{CredentialID: credentialID}, nil, nil)
}

// Authorize asks for a SAD over the exact hashes, approved by otp (an SMS,
// authenticator or authorizer code; "" for a wallet approval). A wallet
// approval answers with ResponseID set instead of SAD: poll AuthorizeCheck.
func (c *Client) Authorize(ctx context.Context, credentialID, hashAlgorithmOID string, hashes [][]byte, otp, description string) (*AuthorizeResponse, error) {
	req := CredentialsAuthorizeRequest{CredentialID: credentialID, NumSignatures: len(hashes), HashAlgorithmOID: hashAlgorithmOID,
		Hashes: encodeAll(hashes), Description: description}
	if otp != "" {
		req.AuthData = []AuthData{{ID: "OTP", Value: otp}}
	}
	var out AuthorizeResponse
	return &out, c.call(ctx, "credentials/authorize", req, &out, nil)
}

// AuthorizeCheck asks whether the holder decided a pending (wallet)
// approval: SAD set when approved, ResponseID set while still pending, an
// *Error with Name access_denied when denied or expired.
func (c *Client) AuthorizeCheck(ctx context.Context, credentialID, responseID string) (*AuthorizeResponse, error) {
	var out AuthorizeResponse
	return &out, c.call(ctx, "credentials/authorizeCheck", AuthorizeCheckRequest{CredentialID: credentialID, ResponseID: responseID}, &out, nil)
}

// WaitAuthorized polls AuthorizeCheck every interval until the holder
// decides or ctx ends, and returns the SAD.
func (c *Client) WaitAuthorized(ctx context.Context, credentialID, responseID string, interval time.Duration) (*AuthorizeResponse, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := c.AuthorizeCheck(ctx, credentialID, responseID)
		if err != nil || res.SAD != "" {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// SignHash signs the hashes the SAD was issued for, in order, with signAlgo
// (an OID, e.g. OIDECDSAWithSHA256); params is DER RSASSA-PSS-params for PSS.
func (c *Client) SignHash(ctx context.Context, credentialID, sad, hashAlgorithmOID, signAlgo string, params []byte, hashes [][]byte) ([][]byte, error) {
	// The body and the answer go through fastjson.go's encoders: a batch of
	// a thousand hashes would otherwise cost two thousand strings.
	size := 200 + len(credentialID) + len(sad) + len(hashAlgorithmOID) + len(signAlgo) + b64.EncodedLen(len(params)) + flatjson.Base64ArraySize(hashes)
	body := appendSignHashRequest(make([]byte, 0, size), credentialID, sad, hashAlgorithmOID, signAlgo, params, hashes)
	answer, err := c.post(ctx, "signatures/signHash", body, nil)
	if err != nil {
		return nil, err
	}
	if sigs, ok := decodeSignatureList(answer); ok {
		if len(sigs) != len(hashes) {
			return nil, fmt.Errorf("csc: signHash returned %d signatures for %d hashes", len(sigs), len(hashes))
		}
		return sigs, nil
	}
	var out SignaturesSignHashResponse
	if err := json.Unmarshal(answer, &out); err != nil {
		return nil, fmt.Errorf("csc: signatures/signHash: decode answer: %w", err)
	}
	if len(out.Signatures) != len(hashes) {
		return nil, fmt.Errorf("csc: signHash returned %d signatures for %d hashes", len(out.Signatures), len(hashes))
	}
	sigs := make([][]byte, len(out.Signatures))
	for i, s := range out.Signatures {
		sig, err := b64.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("csc: signature %d is not base64: %w", i, err)
		}
		sigs[i] = sig
	}
	return sigs, nil
}

// Certificates parses the base64 DER chain of a credential's details, leaf first.
func (d *CredentialDetail) Certificates() ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for i, s := range d.Cert.Certificates {
		der, err := b64.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("csc: certificate %d is not base64: %w", i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("csc: certificate %d: %w", i, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("csc: credential %s came without its certificate", d.CredentialID)
	}
	return certs, nil
}

func encodeAll(hashes [][]byte) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = b64.EncodeToString(h)
	}
	return out
}

// b64 is the encoding of hashes, signatures and certificates on the wire.
var b64 = base64.StdEncoding

// truncate shortens s to about n bytes for an error message, on a UTF-8
// boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
