package timestamp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/selo-qtsp/selo"
)

// maxResponseSize bounds what the client reads from a TSA: a token with a
// long RSA chain is under 10 KiB.
const maxResponseSize = 1 << 20

// Client asks an RFC 3161 TSA over HTTP for timestamp tokens.
type Client struct {
	// URL of the TSA, e.g. https://tsa.example.eu/tsa.
	URL string
	// HTTPClient defaults to one with a 30 second timeout.
	HTTPClient *http.Client
}

// Timestamp asks for a token over digest (made with hash), with a fresh
// nonce and the TSA's certificate included, and checks that the answer is
// a granted token over exactly this digest with the same nonce.
func (c *Client) Timestamp(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	reqDER, err := (&Request{Hash: hash, HashedMessage: digest, Nonce: nonce, CertReq: true}).Marshal()
	if err != nil {
		return nil, err
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(reqDER))
	if err != nil {
		return nil, selo.Errorf(selo.EINVALID, "TSA url %q: %v", c.URL, err)
	}
	httpReq.Header.Set("Content-Type", ContentTypeQuery)
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	res, err := hc.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("ask the TSA at %s: %w", c.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the TSA's answer: %w", err)
	}
	if len(body) > maxResponseSize {
		return nil, selo.Errorf(selo.EINVALID, "the TSA's answer is larger than %d bytes", maxResponseSize)
	}
	if res.StatusCode != http.StatusOK {
		return nil, selo.Errorf(selo.EINVALID, "the TSA at %s answered HTTP %d", c.URL, res.StatusCode)
	}
	resp, err := ParseResponse(body)
	if err != nil {
		return nil, err
	}
	if resp.Status != StatusGranted && resp.Status != StatusGrantedWithMods {
		return nil, selo.Errorf(selo.EINVALID, "the TSA refused: %s (%s) %s", resp.Status, resp.Fail, resp.Text)
	}
	tok, err := ParseToken(resp.Token)
	if err != nil {
		return nil, err
	}
	if tok.Info.Nonce == nil || tok.Info.Nonce.Cmp(nonce) != 0 {
		return nil, selo.Errorf(selo.EINVALID, "the TSA's token does not carry our nonce")
	}
	if _, err := tok.Verify(hash, digest, VerifyOptions{}); err != nil {
		return nil, err
	}
	return resp.Token, nil
}
