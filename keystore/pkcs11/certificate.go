//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/selo-qtsp/selo"
)

// Token is a holder's token (a smart card, a USB token, SoftHSM2 in tests)
// opened to find a key made by any tool, sign with it on the token, and
// install certificates beside it. Unlike Store it does not expect Selo's key
// labels: keys are found by CKA_LABEL or CKA_ID, as the token's owner knows
// them. Nothing here can export a private key.
type Token struct {
	store *Store
	label string
	// raw is a second handle on the same module, for what crypto11 cannot
	// do: list every certificate object of a CKA_ID. It shares the process's
	// PKCS#11 state with crypto11, and is never finalized here.
	raw     *p11.Ctx
	session p11.SessionHandle
}

// TokenKey is a key pair on a token.
type TokenKey struct {
	ID     []byte // CKA_ID, shared by the key's halves and its certificates
	Label  string // CKA_LABEL of the private key
	Signer crypto.Signer
}

// TokenCertificate is a certificate object on a token.
type TokenCertificate struct {
	Label       string
	Certificate *x509.Certificate
}

// OpenToken logs in to the token labelled cfg.TokenLabel with cfg.PIN (a
// wrong PIN is EUNAUTHORIZED, a locked one EFORBIDDEN).
func OpenToken(cfg Config) (*Token, error) {
	st, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	t := &Token{store: st, label: cfg.TokenLabel}
	if err := t.openRaw(cfg.Module); err != nil {
		_ = st.Close()
		return nil, err
	}
	return t, nil
}

func (t *Token) openRaw(module string) error {
	raw := p11.New(module)
	if raw == nil {
		return fmt.Errorf("load PKCS#11 module %s", module)
	}
	// crypto11 has initialized the module for this process already.
	if err := raw.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		raw.Destroy()
		return fmt.Errorf("initialize PKCS#11 module %s: %w", module, err)
	}
	slots, err := raw.GetSlotList(true)
	if err != nil {
		raw.Destroy()
		return fmt.Errorf("list PKCS#11 slots: %w", err)
	}
	for _, slot := range slots {
		info, err := raw.GetTokenInfo(slot)
		if err != nil || strings.TrimRight(info.Label, " \x00") != t.label {
			continue
		}
		session, err := raw.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			raw.Destroy()
			return fmt.Errorf("open PKCS#11 session on token %q: %w", t.label, err)
		}
		t.raw, t.session = raw, session
		return nil
	}
	raw.Destroy()
	return selo.Errorf(selo.ENOTFOUND, "no PKCS#11 token labelled %q", t.label)
}

// Close closes the token's sessions and logs out.
func (t *Token) Close() error {
	if t.raw != nil {
		_ = t.raw.CloseSession(t.session)
		t.raw.Destroy()
		t.raw = nil
	}
	return t.store.Close()
}

// Keys returns every key pair on the token.
func (t *Token) Keys() ([]*TokenKey, error) {
	pairs, err := t.store.p11.FindAllKeyPairs()
	if err != nil {
		return nil, fmt.Errorf("list keys on PKCS#11 token %q: %w", t.label, err)
	}
	return t.describe(pairs)
}

// FindKey returns the one key pair with CKA_ID id and/or CKA_LABEL label.
// With neither, it is the one key that has a certificate beside it. None is
// ENOTFOUND; more than one is EINVALID, naming them, so the holder can pick.
func (t *Token) FindKey(id []byte, label string) (*TokenKey, error) {
	var keys []*TokenKey
	if len(id) == 0 && label == "" {
		all, err := t.Keys()
		if err != nil {
			return nil, err
		}
		for _, k := range all {
			certs, err := t.Certificates(k.ID)
			if err != nil {
				return nil, err
			}
			if len(certs) > 0 {
				keys = append(keys, k)
			}
		}
	} else {
		pairs, err := t.store.p11.FindKeyPairs(id, []byte(label))
		if err != nil {
			return nil, fmt.Errorf("find key on PKCS#11 token %q: %w", t.label, err)
		}
		if keys, err = t.describe(pairs); err != nil {
			return nil, err
		}
	}
	switch len(keys) {
	case 0:
		return nil, selo.Errorf(selo.ENOTFOUND, "no key %s on token %q", keyName(id, label), t.label)
	case 1:
		return keys[0], nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = fmt.Sprintf("label %q id %s", k.Label, hex.EncodeToString(k.ID))
	}
	return nil, selo.Errorf(selo.EINVALID, "token %q holds %d keys that fit (%s): choose one by label or id", t.label, len(keys), strings.Join(names, "; "))
}

func keyName(id []byte, label string) string {
	switch {
	case len(id) > 0 && label != "":
		return fmt.Sprintf("labelled %q with id %s", label, hex.EncodeToString(id))
	case len(id) > 0:
		return "with id " + hex.EncodeToString(id)
	case label != "":
		return fmt.Sprintf("labelled %q", label)
	}
	return "with a certificate"
}

func (t *Token) describe(pairs []crypto11.Signer) ([]*TokenKey, error) {
	out := make([]*TokenKey, 0, len(pairs))
	for _, k := range pairs {
		attrs, err := t.store.p11.GetAttributes(k, []crypto11.AttributeType{crypto11.CkaId, crypto11.CkaLabel})
		if err != nil {
			return nil, fmt.Errorf("read key attributes on PKCS#11 token %q: %w", t.label, err)
		}
		tk := &TokenKey{Signer: wrap(k)}
		if a := attrs[crypto11.CkaId]; a != nil {
			tk.ID = a.Value
		}
		if a := attrs[crypto11.CkaLabel]; a != nil {
			tk.Label = string(a.Value)
		}
		out = append(out, tk)
	}
	return out, nil
}

// maxCertificateObjects bounds how many certificates of one CKA_ID are read.
const maxCertificateObjects = 64

// Certificates returns every X.509 certificate object with CKA_ID id.
func (t *Token) Certificates(id []byte) ([]*TokenCertificate, error) {
	if len(id) == 0 {
		return nil, selo.Errorf(selo.EINVALID, "a key without a CKA_ID has no certificates beside it")
	}
	template := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_CERTIFICATE_TYPE, p11.CKC_X_509),
		p11.NewAttribute(p11.CKA_ID, id),
	}
	if err := t.raw.FindObjectsInit(t.session, template); err != nil {
		return nil, fmt.Errorf("find certificates on PKCS#11 token %q: %w", t.label, err)
	}
	handles, _, err := t.raw.FindObjects(t.session, maxCertificateObjects)
	if ferr := t.raw.FindObjectsFinal(t.session); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("find certificates on PKCS#11 token %q: %w", t.label, err)
	}
	var out []*TokenCertificate
	for _, h := range handles {
		attrs, err := t.raw.GetAttributeValue(t.session, h, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_VALUE, nil), p11.NewAttribute(p11.CKA_LABEL, nil)})
		if err != nil {
			return nil, fmt.Errorf("read certificate on PKCS#11 token %q: %w", t.label, err)
		}
		cert, err := x509.ParseCertificate(attrs[0].Value)
		if err != nil {
			continue // not ours to judge; the holder's other tools put it there
		}
		out = append(out, &TokenCertificate{Label: string(attrs[1].Value), Certificate: cert})
	}
	return out, nil
}

// ImportCertificate stores cert on the token as a new certificate object
// with CKA_ID id (beside the key of that id) and CKA_LABEL label. When the
// very certificate is already there with that id, it does nothing, so an
// interrupted installation can be run again.
func (t *Token) ImportCertificate(id []byte, label string, cert *x509.Certificate) error {
	if len(id) == 0 || label == "" {
		return selo.Errorf(selo.EINVALID, "a certificate on the token needs the key's CKA_ID and a label")
	}
	have, err := t.Certificates(id)
	if err != nil {
		return err
	}
	for _, c := range have {
		if bytes.Equal(c.Certificate.Raw, cert.Raw) {
			return nil
		}
	}
	if err := t.store.p11.ImportCertificateWithLabel(id, []byte(label), cert); err != nil {
		return fmt.Errorf("store certificate on PKCS#11 token %q: %w", t.label, err)
	}
	return nil
}

// DeleteCertificate removes the certificate object with CKA_ID id and the
// serial; none is not an error.
func (t *Token) DeleteCertificate(id []byte, serial *big.Int) error {
	if len(id) == 0 || serial == nil {
		return selo.Errorf(selo.EINVALID, "name the certificate to delete by CKA_ID and serial")
	}
	if err := t.store.p11.DeleteCertificate(id, nil, serial); err != nil {
		return fmt.Errorf("delete certificate on PKCS#11 token %q: %w", t.label, err)
	}
	return nil
}

// RelabelCertificate sets the CKA_LABEL of the certificate object with
// CKA_ID id and the serial; ENOTFOUND when there is none.
func (t *Token) RelabelCertificate(id []byte, serial *big.Int, label string) error {
	if len(id) == 0 || serial == nil || label == "" {
		return selo.Errorf(selo.EINVALID, "name the certificate by CKA_ID and serial, and give a label")
	}
	der, err := asn1.Marshal(serial)
	if err != nil {
		return err
	}
	template := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_SERIAL_NUMBER, der),
	}
	if err := t.raw.FindObjectsInit(t.session, template); err != nil {
		return fmt.Errorf("find certificate on PKCS#11 token %q: %w", t.label, err)
	}
	handles, _, err := t.raw.FindObjects(t.session, 1)
	if ferr := t.raw.FindObjectsFinal(t.session); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("find certificate on PKCS#11 token %q: %w", t.label, err)
	}
	if len(handles) == 0 {
		return selo.Errorf(selo.ENOTFOUND, "no certificate with serial %s beside key %s", serial.Text(16), hex.EncodeToString(id))
	}
	if err := t.raw.SetAttributeValue(t.session, handles[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)}); err != nil {
		return fmt.Errorf("relabel certificate on PKCS#11 token %q: %w", t.label, err)
	}
	return nil
}
