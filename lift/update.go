package lift

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/pkcs11"
)

// The holder's side of the certificate update under a new CA (the seed's
// "UpdateCertified"): find the key and its certificate on a PKCS#11 token or
// in a .pfx, sign the server's challenge with the key (on the token: the key
// never leaves it), and install the re-issued certificate beside the key.

// updateChallengePrefix is how every genuine challenge starts; anything else
// is not signed, so a server cannot make the holder's key sign other text.
const updateChallengePrefix = "selo-update-v1\n"

// maxUpdateResponseBytes bounds what is read from the server.
const maxUpdateResponseBytes = 1 << 20

// UpdateClient calls a Selo server's certificate update endpoints.
type UpdateClient struct {
	// BaseURL is the server, e.g. "https://pki.example.eu".
	BaseURL string
	// HTTP is the client used; nil uses one with a 60-second timeout.
	HTTP *http.Client
}

// UpdatedCertificate is the certificate the server re-issued, with its chain
// (issuing CA first, root last).
type UpdatedCertificate struct {
	Certificate    *x509.Certificate
	Chain          []*x509.Certificate
	CA             string
	Replaced       string // serial of the certificate presented
	AlreadyUpdated bool   // a retry: the server had updated it before
}

// Challenge asks for a challenge to update cert (DER).
func (c *UpdateClient) Challenge(ctx context.Context, certDER []byte) (challenge, serial string, err error) {
	var out struct {
		Challenge string    `json:"challenge"`
		Serial    string    `json:"serial"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	body := map[string]string{"certificate": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))}
	if err := c.post(ctx, "/api/v1/update/challenge", body, &out); err != nil {
		return "", "", err
	}
	return out.Challenge, out.Serial, nil
}

// Complete sends the signature over challenge and returns the new certificate.
func (c *UpdateClient) Complete(ctx context.Context, challenge string, signature []byte) (*UpdatedCertificate, error) {
	var out struct {
		CA             string   `json:"ca"`
		Certificate    string   `json:"certificate"`
		Chain          []string `json:"chain"`
		Replaced       string   `json:"replaced"`
		AlreadyUpdated bool     `json:"already_updated"`
	}
	body := map[string]string{"challenge": challenge, "signature": base64.StdEncoding.EncodeToString(signature)}
	if err := c.post(ctx, "/api/v1/update/complete", body, &out); err != nil {
		return nil, err
	}
	cert, err := parsePEMCertificate(out.Certificate)
	if err != nil {
		return nil, err
	}
	res := &UpdatedCertificate{Certificate: cert, CA: out.CA, Replaced: out.Replaced, AlreadyUpdated: out.AlreadyUpdated}
	for _, p := range out.Chain {
		c, err := parsePEMCertificate(p)
		if err != nil {
			return nil, err
		}
		res.Chain = append(res.Chain, c)
	}
	return res, nil
}

// Update proves possession of cert's key with signer and returns the
// re-issued certificate, after checking that it certifies the same key with
// the same notAfter and chains to the CA certificates sent with it.
func (c *UpdateClient) Update(ctx context.Context, cert *x509.Certificate, signer crypto.Signer) (*UpdatedCertificate, error) {
	if !samePublicKey(cert.PublicKey, signer.Public()) {
		return nil, selo.Errorf(selo.EINVALID, "the key does not belong to certificate %s", cert.SerialNumber.Text(16))
	}
	challenge, serial, err := c.Challenge(ctx, cert.Raw)
	if err != nil {
		return nil, err
	}
	want := cert.SerialNumber.Text(16)
	if serial != want || !strings.HasPrefix(challenge, updateChallengePrefix+want+"\n") {
		return nil, selo.Errorf(selo.EINVALID, "the server sent a challenge that is not for certificate %s; nothing was signed", want)
	}
	digest := sha256.Sum256([]byte(challenge))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign the update challenge: %w", err)
	}
	res, err := c.Complete(ctx, challenge, sig)
	if err != nil {
		return nil, err
	}
	switch {
	case !samePublicKey(res.Certificate.PublicKey, signer.Public()):
		return nil, selo.Errorf(selo.EINVALID, "the server returned a certificate for another key; nothing was installed")
	case !res.Certificate.NotAfter.Equal(cert.NotAfter):
		return nil, selo.Errorf(selo.EINVALID, "the server returned a certificate valid until %s, not %s; nothing was installed",
			res.Certificate.NotAfter.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
	case len(res.Chain) == 0 || res.Certificate.CheckSignatureFrom(res.Chain[0]) != nil:
		return nil, selo.Errorf(selo.EINVALID, "the new certificate is not signed by the CA certificate sent with it; nothing was installed")
	}
	return res, nil
}

func (c *UpdateClient) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(b))
	if err != nil {
		return selo.Errorf(selo.EINVALID, "server URL %q: %v", c.BaseURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxUpdateResponseBytes))
	if err != nil {
		return fmt.Errorf("read answer of %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return selo.Errorf(e.Error.Code, "%s", e.Error.Message)
		}
		return fmt.Errorf("%s answered %s", path, resp.Status)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode answer of %s: %w", path, err)
	}
	return nil
}

func parsePEMCertificate(s string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the server sent a certificate that is not PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the server sent a certificate that cannot be parsed: %w", err)
	}
	return c, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	x, err1 := x509.MarshalPKIXPublicKey(a)
	y, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// TokenUpdateOptions names the token and, optionally, the key on it.
type TokenUpdateOptions struct {
	Module     string // the PKCS#11 library of the token
	TokenLabel string
	PIN        string
	// KeyLabel and KeyID pick the key; with neither, the one key that has a
	// certificate beside it.
	KeyLabel string
	KeyID    []byte
}

// TokenUpdate says what UpdateToken did.
type TokenUpdate struct {
	Updated []*UpdatedCertificate // installed (or found installed) on the token
	// Skipped holds, by serial, the server's reason for each certificate
	// beside the key that was not updated (nothing to update, not issued by
	// this provider, no new CA yet).
	Skipped  map[string]string
	KeyLabel string
	KeyID    []byte
}

// supersededSuffix is added to the label of a replaced certificate, which
// stays on the token (it is superseded, not revoked) but is no longer the
// certificate of the key's label.
const supersededSuffix = " (superseded)"

// UpdateToken updates the certificates of a key on a PKCS#11 token: each
// certificate beside the key is presented to the server; a re-issued one is
// installed as a new certificate object with the key's CKA_ID and the old
// one's label, and the old object is kept, relabelled "<label> (superseded)".
// Running it again after an interruption finishes the installation and makes
// no second certificate.
func UpdateToken(ctx context.Context, client *UpdateClient, opts TokenUpdateOptions) (*TokenUpdate, error) {
	tok, err := pkcs11.OpenToken(pkcs11.Config{Module: opts.Module, TokenLabel: opts.TokenLabel, PIN: opts.PIN})
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	key, err := tok.FindKey(opts.KeyID, opts.KeyLabel)
	if err != nil {
		return nil, err
	}
	certs, err := tok.Certificates(key.ID)
	if err != nil {
		return nil, err
	}
	out := &TokenUpdate{KeyLabel: key.Label, KeyID: key.ID, Skipped: map[string]string{}}
	present := map[string]bool{}
	for _, c := range certs {
		present[string(c.Certificate.Raw)] = true
	}
	for _, c := range certs {
		if strings.HasSuffix(c.Label, supersededSuffix) || !samePublicKey(c.Certificate.PublicKey, key.Signer.Public()) {
			continue
		}
		res, err := client.Update(ctx, c.Certificate, key.Signer)
		switch selo.ErrorCode(err) {
		case "":
		case selo.ECONFLICT, selo.ENOTFOUND:
			// Nothing to update, or not this provider's: leave it as it is.
			out.Skipped[c.Certificate.SerialNumber.Text(16)] = selo.ErrorMessage(err)
			continue
		default:
			return out, err
		}
		label := c.Label
		if label == "" {
			label = key.Label
		}
		if label == "" {
			label = res.Certificate.Subject.CommonName
		}
		if !present[string(res.Certificate.Raw)] {
			if err := tok.ImportCertificate(key.ID, label, res.Certificate); err != nil {
				return out, err
			}
		}
		// Only once the new one is stored is the old one relabelled, so an
		// interruption leaves both, never neither.
		if err := tok.RelabelCertificate(key.ID, c.Certificate.SerialNumber, label+supersededSuffix); err != nil {
			return out, err
		}
		out.Updated = append(out.Updated, res)
	}
	if len(out.Updated) == 0 && len(out.Skipped) == 0 {
		return out, selo.Errorf(selo.ENOTFOUND, "key %q on token %q has no certificate to update", key.Label, opts.TokenLabel)
	}
	return out, nil
}

// UpdatePFX updates the certificate in a .pfx (PKCS#12) read with password,
// and returns a new .pfx with the same key and the new certificate and chain,
// encrypted with the same password (AES-256, PBKDF2: what OpenSSL 3 and
// Windows read).
func UpdatePFX(ctx context.Context, client *UpdateClient, pfx []byte, password string) ([]byte, *UpdatedCertificate, error) {
	key, cert, _, err := pkcs12.DecodeChain(pfx, password)
	if err != nil {
		return nil, nil, selo.Errorf(selo.EINVALID, "cannot open the .pfx: wrong password or not a PKCS#12 file")
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, selo.Errorf(selo.EINVALID, "the .pfx holds a %T key, which cannot sign", key)
	}
	res, err := client.Update(ctx, cert, signer)
	if err != nil {
		return nil, nil, err
	}
	out, err := pkcs12.Modern.Encode(key, res.Certificate, res.Chain, password)
	if err != nil {
		return nil, nil, fmt.Errorf("write the new .pfx: %w", err)
	}
	return out, res, nil
}
