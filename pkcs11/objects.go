package pkcs11

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	"slices"
	"time"

	"github.com/selo-qtsp/selo/csc"
)

// object is one token object: a certificate, a public key or a private
// key (which is only a handle on the credential: no key material).
type object struct {
	handle uint
	slot   *slot
	class  uint
	attrs  map[uint][]byte
	// key is the credential of a private key object.
	key *key
}

// key is a credential the token signs with.
type key struct {
	signer   *csc.Signer
	approval string
	label    string
	// ec says an ECDSA key (else RSA); size is the signature's length.
	ec   bool
	size int
	// pss says the service signs RSASSA-PSS with the key.
	pss bool
}

// sensitive are the attributes of a private key that are never given.
var sensitive = map[uint]bool{CKA_VALUE: true, 0x123: true, 0x124: true, 0x125: true, 0x126: true, 0x127: true, 0x128: true}

func ulong(v uint) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, uint64(v))
	return b
}

func boolean(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// load reads the token's objects from the service once per login (and
// again when the token had no session open), so that a certificate
// revoked or a credential added since shows in the next application.
func (m *Module) load(s *slot) RV {
	s.loading.Lock()
	defer s.loading.Unlock()
	m.mu.Lock()
	if !s.loggedIn {
		m.mu.Unlock()
		return CKR_OK
	}
	if !s.loaded.IsZero() {
		m.mu.Unlock()
		return CKR_OK
	}
	cl := s.client
	m.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.cfg.Timeout))
	defer cancel()
	res, err := cl.ListCredentials(ctx)
	if err != nil {
		rv := m.rv("credentials/list", err)
		if rv == CKR_USER_NOT_LOGGED_IN {
			m.mu.Lock()
			m.logout(s)
			m.mu.Unlock()
		}
		return rv
	}
	var objs []*object
	seenCA := map[string]bool{}
	mechs := map[uint]bool{}
	for i := range res.CredentialInfos {
		d := &res.CredentialInfos[i]
		certs, err := d.Certificates()
		if err != nil {
			m.log.Warn("credential skipped", "credential", d.CredentialID, "err", err)
			continue
		}
		leaf := certs[0]
		k := &key{approval: d.Auth.Approval, signer: &csc.Signer{Client: cl, CredentialID: d.CredentialID, Key: leaf.PublicKey, Credential: d, Certificates: certs}}
		switch pub := leaf.PublicKey.(type) {
		case *ecdsa.PublicKey:
			k.ec, k.size = true, 2*((pub.Curve.Params().BitSize+7)/8)
			for _, mech := range []uint{CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512} {
				mechs[mech] = true
			}
		case *rsa.PublicKey:
			k.size = pub.Size()
			for _, mech := range []uint{CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS} {
				mechs[mech] = true
			}
			if k.pss = len(d.Key.Algo) == 0 || slices.Contains(d.Key.Algo, csc.OIDRSAPSS); k.pss {
				mechs[CKM_RSA_PKCS_PSS] = true
			}
		default:
			m.log.Warn("credential skipped: key type", "credential", d.CredentialID)
			continue
		}
		label := d.Description
		if label == "" {
			label = leaf.Subject.CommonName
		}
		k.label = label
		id := KeyID(leaf)
		keyAttrs, pubAttrs, ok := keyAttributes(leaf.PublicKey)
		if !ok {
			continue
		}
		priv := map[uint][]byte{
			CKA_CLASS: ulong(CKO_PRIVATE_KEY), CKA_TOKEN: boolean(true), CKA_PRIVATE: boolean(true), CKA_MODIFIABLE: boolean(false),
			CKA_COPYABLE: boolean(false), CKA_DESTROYABLE: boolean(false), CKA_LABEL: []byte(label), CKA_ID: id,
			CKA_SUBJECT: leaf.RawSubject, CKA_SENSITIVE: boolean(true), CKA_ALWAYS_SENSITIVE: boolean(true),
			CKA_EXTRACTABLE: boolean(false), CKA_NEVER_EXTRACTABLE: boolean(true), CKA_LOCAL: boolean(true),
			CKA_SIGN: boolean(true), CKA_SIGN_RECOVER: boolean(false), CKA_DECRYPT: boolean(false), CKA_UNWRAP: boolean(false),
			CKA_DERIVE: boolean(false), CKA_WRAP_WITH_TRUSTED: boolean(false),
			CKA_ALWAYS_AUTHENTICATE: boolean(m.contextLogin(k)),
			CKA_PUBLIC_KEY_INFO:     leaf.RawSubjectPublicKeyInfo,
		}
		pubk := map[uint][]byte{
			CKA_CLASS: ulong(CKO_PUBLIC_KEY), CKA_TOKEN: boolean(true), CKA_PRIVATE: boolean(false), CKA_MODIFIABLE: boolean(false),
			CKA_COPYABLE: boolean(false), CKA_DESTROYABLE: boolean(false), CKA_LABEL: []byte(label), CKA_ID: id,
			CKA_SUBJECT: leaf.RawSubject, CKA_VERIFY: boolean(true), CKA_VERIFY_RECOVER: boolean(false), CKA_ENCRYPT: boolean(false),
			CKA_WRAP: boolean(false), CKA_DERIVE: boolean(false), CKA_LOCAL: boolean(true), CKA_PUBLIC_KEY_INFO: leaf.RawSubjectPublicKeyInfo,
		}
		for a, v := range keyAttrs {
			priv[a], pubk[a] = v, v
		}
		for a, v := range pubAttrs {
			pubk[a] = v
		}
		objs = append(objs, &object{class: CKO_CERTIFICATE, attrs: certAttributes(leaf, label, id, 1)},
			&object{class: CKO_PUBLIC_KEY, attrs: pubk},
			&object{class: CKO_PRIVATE_KEY, attrs: priv, key: k})
		for _, ca := range certs[1:] {
			if seenCA[string(ca.Raw)] {
				continue
			}
			seenCA[string(ca.Raw)] = true
			objs = append(objs, &object{class: CKO_CERTIFICATE, attrs: certAttributes(ca, ca.Subject.CommonName, KeyID(ca), 2)})
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.loggedIn || s.client != cl {
		return CKR_USER_NOT_LOGGED_IN
	}
	// An object read again keeps its handle: an application may hold it
	// across sessions.
	old := map[string]uint{}
	for _, o := range s.objects {
		old[identity(o)] = o.handle
		delete(m.objects, o.handle)
	}
	for _, o := range objs {
		if h, ok := old[identity(o)]; ok {
			o.handle = h
		} else {
			m.nextObject++
			o.handle = m.nextObject
		}
		o.slot = s
		m.objects[o.handle] = o
	}
	s.objects, s.mechs, s.loaded = objs, mechs, time.Now()
	m.log.Info("token read", "account", s.acct.Email, "credentials", len(res.CredentialInfos), "objects", len(objs))
	return CKR_OK
}

// identity tells objects apart across readings of the token.
func identity(o *object) string {
	return string(o.attrs[CKA_CLASS]) + "\x00" + string(o.attrs[CKA_ID]) + "\x00" + string(o.attrs[CKA_VALUE]) + "\x00" + string(o.attrs[CKA_PUBLIC_KEY_INFO])
}

// KeyID is the CKA_ID shared by a certificate and its keys: the SHA-1 of
// the public key, as most tokens make it.
func KeyID(c *x509.Certificate) []byte {
	var spki struct {
		Algorithm asn1.RawValue
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		sum := sha1.Sum(c.RawSubjectPublicKeyInfo)
		return sum[:]
	}
	sum := sha1.Sum(spki.Key.Bytes)
	return sum[:]
}

// certAttributes are the attributes of an X.509 certificate object;
// category 1 is the token user's own, 2 an authority.
func certAttributes(c *x509.Certificate, label string, id []byte, category uint) map[uint][]byte {
	serial, _ := asn1.Marshal(c.SerialNumber)
	return map[uint][]byte{
		CKA_CLASS: ulong(CKO_CERTIFICATE), CKA_TOKEN: boolean(true), CKA_PRIVATE: boolean(false), CKA_MODIFIABLE: boolean(false),
		CKA_COPYABLE: boolean(false), CKA_DESTROYABLE: boolean(false), CKA_LABEL: []byte(label),
		CKA_CERTIFICATE_TYPE: ulong(CKC_X_509), CKA_TRUSTED: boolean(false), CKA_CERTIFICATE_CATEGORY: ulong(category),
		CKA_ID: id, CKA_SUBJECT: c.RawSubject, CKA_ISSUER: c.RawIssuer, CKA_SERIAL_NUMBER: serial, CKA_VALUE: c.Raw,
	}
}

// keyAttributes are a key's public attributes shared by both key objects,
// and those of the public key object only.
func keyAttributes(pub any) (both, pubOnly map[uint][]byte, ok bool) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		oid := map[elliptic.Curve]asn1.ObjectIdentifier{
			elliptic.P256(): {1, 2, 840, 10045, 3, 1, 7}, elliptic.P384(): {1, 3, 132, 0, 34}, elliptic.P521(): {1, 3, 132, 0, 35},
		}[k.Curve]
		if oid == nil {
			return nil, nil, false
		}
		params, _ := asn1.Marshal(oid)
		e, err := k.ECDH()
		if err != nil {
			return nil, nil, false
		}
		point, _ := asn1.Marshal(e.Bytes())
		return map[uint][]byte{CKA_KEY_TYPE: ulong(CKK_EC), CKA_EC_PARAMS: params}, map[uint][]byte{CKA_EC_POINT: point}, true
	case *rsa.PublicKey:
		return map[uint][]byte{CKA_KEY_TYPE: ulong(CKK_RSA), CKA_MODULUS: k.N.Bytes(), CKA_PUBLIC_EXPONENT: big.NewInt(int64(k.E)).Bytes()},
			map[uint][]byte{CKA_MODULUS_BITS: ulong(uint(k.N.BitLen()))}, true
	}
	return nil, nil, false
}

// Attribute is one entry of a template.
type Attribute struct {
	Type  uint
	Value []byte
}

// FindObjectsInit starts a search for the objects matching template.
func (m *Module) FindObjectsInit(h uint, template []Attribute) RV {
	if len(template) > maxTemplate {
		return CKR_ARGUMENTS_BAD
	}
	m.mu.Lock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		m.mu.Unlock()
		return rv
	}
	if se.finding {
		m.mu.Unlock()
		return CKR_OPERATION_ACTIVE
	}
	s := se.slot
	m.mu.Unlock()
	if rv := m.load(s); rv != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN {
		return rv
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if se, rv = m.session(h); rv != CKR_OK {
		return rv
	}
	se.find, se.finding = nil, true
	for _, o := range s.objects {
		if matches(o, template) {
			se.find = append(se.find, o.handle)
		}
	}
	return CKR_OK
}

func matches(o *object, template []Attribute) bool {
	for _, a := range template {
		v, ok := o.attrs[a.Type]
		if !ok || !bytes.Equal(v, a.Value) {
			return false
		}
	}
	return true
}

// FindObjects returns up to max more handles of the search.
func (m *Module) FindObjects(h uint, max int) ([]uint, RV) {
	m.mu.Lock()
	defer m.mu.Unlock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		return nil, rv
	}
	if !se.finding {
		return nil, CKR_OPERATION_NOT_INITIALIZED
	}
	n := min(max, len(se.find))
	out := se.find[:n:n]
	se.find = se.find[n:]
	return out, CKR_OK
}

// FindObjectsFinal ends the search.
func (m *Module) FindObjectsFinal(h uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		return rv
	}
	if !se.finding {
		return CKR_OPERATION_NOT_INITIALIZED
	}
	se.find, se.finding = nil, false
	return CKR_OK
}

// object returns object handle o as seen from session h (m.mu held).
func (m *Module) object(h, o uint) (*session, *object, RV) {
	se, rv := m.session(h)
	if rv != CKR_OK {
		return nil, nil, rv
	}
	obj := m.objects[o]
	if obj == nil || obj.slot != se.slot {
		return se, nil, CKR_OBJECT_HANDLE_INVALID
	}
	return se, obj, CKR_OK
}

// AttributeValue returns one attribute of object o: CKR_ATTRIBUTE_SENSITIVE
// for a private key's secret parts, CKR_ATTRIBUTE_TYPE_INVALID for what the
// object does not have.
func (m *Module) AttributeValue(h, o, typ uint) ([]byte, RV) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, obj, rv := m.object(h, o)
	if rv != CKR_OK {
		return nil, rv
	}
	if obj.class == CKO_PRIVATE_KEY && sensitive[typ] {
		return nil, CKR_ATTRIBUTE_SENSITIVE
	}
	v, ok := obj.attrs[typ]
	if !ok {
		return nil, CKR_ATTRIBUTE_TYPE_INVALID
	}
	return v, CKR_OK
}

// CheckObject says whether o is an object of session h.
func (m *Module) CheckObject(h, o uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, rv := m.object(h, o)
	return rv
}

// ObjectSize is C_GetObjectSize: the bytes of the object's attributes.
func (m *Module) ObjectSize(h, o uint) (uint, RV) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, obj, rv := m.object(h, o)
	if rv != CKR_OK {
		return 0, rv
	}
	n := 0
	for _, v := range obj.attrs {
		n += len(v)
	}
	return uint(n), CKR_OK
}

// WriteRV is what an operation that would change the token gets: the token
// is read-only (create, copy, destroy, set attributes, generate keys).
func (m *Module) WriteRV(h uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, rv := m.session(h); rv != CKR_OK {
		return rv
	}
	return CKR_TOKEN_WRITE_PROTECTED
}

// ObjectWriteRV is what C_DestroyObject and C_CopyObject get: the objects
// are neither destroyable nor copyable (CKA_DESTROYABLE, CKA_COPYABLE).
func (m *Module) ObjectWriteRV(h, o uint) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, _, rv := m.object(h, o); rv != CKR_OK {
		return rv
	}
	return CKR_ACTION_PROHIBITED
}
