package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"hash"
	"io"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"time"

	_ "crypto/sha256" // the hashes of the CKM_*_SHA* mechanisms
	_ "crypto/sha512"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/csc"
)

// signOp is a signature under way in a session.
type signOp struct {
	mech uint
	key  *key
	// hash is what CKM_ECDSA_SHA* and CKM_SHA*_RSA_PKCS hash the data with;
	// 0 for CKM_ECDSA and CKM_RSA_PKCS, which are given the hash.
	hash   crypto.Hash
	hasher hash.Hash
	// pss is the hash of a CKM_RSA_PKCS_PSS signature (0: not PSS).
	pss crypto.Hash
	// data is what C_SignUpdate gave a mechanism without a hash.
	data []byte
	// code approves the signature (CKU_CONTEXT_SPECIFIC login).
	code          string
	authenticated bool
	// busy says a remote signature is under way.
	busy bool
	// sig is a signature made but not yet delivered (the buffer was short).
	sig []byte
}

// mechanismHash is the hash a mechanism hashes with (0: given the hash)
// and whether the mechanism is an ECDSA one; ok is false for a mechanism
// the module does not sign with.
func mechanismHash(mech uint) (h crypto.Hash, ec, ok bool) {
	switch mech {
	case CKM_ECDSA:
		return 0, true, true
	case CKM_ECDSA_SHA256:
		return crypto.SHA256, true, true
	case CKM_ECDSA_SHA384:
		return crypto.SHA384, true, true
	case CKM_ECDSA_SHA512:
		return crypto.SHA512, true, true
	case CKM_RSA_PKCS, CKM_RSA_PKCS_PSS:
		return 0, false, true
	case CKM_SHA256_RSA_PKCS:
		return crypto.SHA256, false, true
	case CKM_SHA384_RSA_PKCS:
		return crypto.SHA384, false, true
	case CKM_SHA512_RSA_PKCS:
		return crypto.SHA512, false, true
	}
	return 0, false, false
}

// SignInit starts a signature with key object o. For a credential approved
// by SMS the service texts the holder the code now (unless the
// configuration says the holder asks for it), which the application then
// passes with a context-specific login.
func (m *Module) SignInit(h, mech uint, param []byte, o uint) RV {
	m.mu.Lock()
	se, obj, rv := m.object(h, o)
	if rv == CKR_OBJECT_HANDLE_INVALID {
		rv = CKR_KEY_HANDLE_INVALID
	}
	if rv != CKR_OK {
		m.mu.Unlock()
		return rv
	}
	if se.sign != nil {
		m.mu.Unlock()
		return CKR_OPERATION_ACTIVE
	}
	if obj.key == nil {
		m.mu.Unlock()
		return CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	if !se.slot.loggedIn {
		m.mu.Unlock()
		return CKR_USER_NOT_LOGGED_IN
	}
	k := obj.key
	hash, ec, ok := mechanismHash(mech)
	if !ok {
		m.mu.Unlock()
		m.log.Info("mechanism refused", "mechanism", mech)
		return CKR_MECHANISM_INVALID
	}
	if ec != k.ec {
		m.mu.Unlock()
		return CKR_KEY_TYPE_INCONSISTENT
	}
	var pss crypto.Hash
	if mech == CKM_RSA_PKCS_PSS {
		if !k.pss {
			m.mu.Unlock()
			return CKR_MECHANISM_INVALID
		}
		if pss = pssParams(param); pss == 0 {
			m.mu.Unlock()
			return CKR_MECHANISM_PARAM_INVALID
		}
	} else if len(param) != 0 {
		m.mu.Unlock()
		return CKR_MECHANISM_PARAM_INVALID
	}
	if hash != 0 {
		if _, err := k.signer.SignAlgo(hash); err != nil {
			m.mu.Unlock()
			m.log.Info("mechanism refused", "mechanism", mech, "err", err)
			return CKR_MECHANISM_INVALID
		}
	}
	if err := k.signer.CheckUsable(); err != nil {
		m.mu.Unlock()
		m.log.Warn("key refused", "credential", k.signer.CredentialID, "err", err)
		return CKR_KEY_FUNCTION_NOT_PERMITTED
	}
	op := &signOp{mech: mech, key: k, hash: hash, pss: pss, busy: true}
	if hash != 0 {
		op.hasher = hash.New()
	}
	se.sign = op
	m.mu.Unlock()

	var err error
	if k.approval == string(selo.ApprovalSMS) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.cfg.Timeout))
		err = k.signer.Client.SendOTP(ctx, k.signer.CredentialID)
		cancel()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	op.busy = false
	if err != nil {
		if se.sign == op {
			se.sign = nil
		}
		return m.rv("credentials/sendOTP", err)
	}
	m.log.Info("signature started", "credential", k.signer.CredentialID, "mechanism", mech, "approval", k.approval)
	return CKR_OK
}

// SignUpdate adds data to a signature.
func (m *Module) SignUpdate(h uint, part []byte) RV {
	m.mu.Lock()
	defer m.mu.Unlock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		return rv
	}
	op := se.sign
	if op == nil {
		return CKR_OPERATION_NOT_INITIALIZED
	}
	if op.busy || op.sig != nil {
		return CKR_OPERATION_ACTIVE
	}
	if op.hasher != nil {
		op.hasher.Write(part)
		return CKR_OK
	}
	if len(op.data)+len(part) > 1024 {
		se.sign = nil
		return CKR_DATA_LEN_RANGE
	}
	op.data = append(op.data, part...)
	return CKR_OK
}

// Sign signs data (single part): out nil asks only for the length.
func (m *Module) Sign(h uint, data []byte, out []byte, query bool) (int, RV) {
	return m.finish(h, data, true, out, query)
}

// SignFinal signs what SignUpdate gave.
func (m *Module) SignFinal(h uint, out []byte, query bool) (int, RV) {
	return m.finish(h, nil, false, out, query)
}

// finish makes the signature: the digest leaves for the service, approved
// the way the credential says, and comes back signed.
func (m *Module) finish(h uint, data []byte, single bool, out []byte, query bool) (int, RV) {
	if len(data) > maxSignData {
		return 0, CKR_DATA_LEN_RANGE
	}
	m.mu.Lock()
	se, rv := m.session(h)
	if rv != CKR_OK {
		m.mu.Unlock()
		return 0, rv
	}
	op := se.sign
	if op == nil {
		m.mu.Unlock()
		return 0, CKR_OPERATION_NOT_INITIALIZED
	}
	if op.busy {
		m.mu.Unlock()
		return 0, CKR_OPERATION_ACTIVE
	}
	if op.sig != nil {
		n, rv := deliver(op.sig, out, query)
		if rv == CKR_OK && !query {
			se.sign = nil
		}
		m.mu.Unlock()
		return n, rv
	}
	k := op.key
	if query {
		m.mu.Unlock()
		return k.size, CKR_OK
	}
	if len(out) < k.size {
		m.mu.Unlock()
		return k.size, CKR_BUFFER_TOO_SMALL
	}
	end := func(rv RV) (int, RV) {
		if se.sign == op {
			se.sign = nil
		}
		m.mu.Unlock()
		return 0, rv
	}
	if m.contextLogin(k) && !op.authenticated {
		// CKA_ALWAYS_AUTHENTICATE: the code comes first; the operation
		// stays for the application to log in and sign again.
		m.mu.Unlock()
		return 0, CKR_USER_NOT_LOGGED_IN
	}
	h2, digest, rv := op.digest(data, single)
	if rv != CKR_OK {
		return end(rv)
	}
	op.busy = true
	code := op.code
	op.code = ""
	m.mu.Unlock()

	sig, err := m.remoteSign(k, h2, digest, code, op.pss != 0)

	m.mu.Lock()
	op.busy = false
	if err != nil {
		m.log.Warn("signature failed", "credential", k.signer.CredentialID, "err", err)
		rv := errorRV(err)
		if rv == CKR_USER_NOT_LOGGED_IN {
			// The access token expired or was revoked: the token asks for
			// a login again.
			m.logout(se.slot)
		}
		return end(rv)
	}
	if k.ec {
		if sig, err = rawECDSA(sig, k.size); err != nil {
			return end(CKR_DEVICE_ERROR)
		}
	}
	m.log.Info("signed", "credential", k.signer.CredentialID, "mechanism", op.mech)
	op.sig = sig
	n, rv := deliver(sig, out, false)
	if rv == CKR_OK && se.sign == op {
		se.sign = nil
	}
	m.mu.Unlock()
	return n, rv
}

// deliver copies sig into out.
func deliver(sig, out []byte, query bool) (int, RV) {
	if query {
		return len(sig), CKR_OK
	}
	if len(out) < len(sig) {
		return len(sig), CKR_BUFFER_TOO_SMALL
	}
	return copy(out, sig), CKR_OK
}

// digest returns the hash to sign and which hash it is.
func (op *signOp) digest(data []byte, single bool) (crypto.Hash, []byte, RV) {
	if op.hasher != nil {
		op.hasher.Write(data)
		return op.hash, op.hasher.Sum(nil), CKR_OK
	}
	if !single {
		data = op.data
	}
	if op.pss != 0 {
		if len(data) != op.pss.Size() {
			return 0, nil, CKR_DATA_LEN_RANGE
		}
		return op.pss, data, CKR_OK
	}
	if op.mech == CKM_RSA_PKCS {
		h, d, err := ParseDigestInfo(data)
		if err != nil {
			return 0, nil, CKR_DATA_INVALID
		}
		return h, d, CKR_OK
	}
	switch len(data) {
	case 32:
		return crypto.SHA256, data, CKR_OK
	case 48:
		return crypto.SHA384, data, CKR_OK
	case 64:
		return crypto.SHA512, data, CKR_OK
	}
	return 0, nil, CKR_DATA_LEN_RANGE
}

// remoteSign signs one digest through the CSC API: one approval, bounded by
// the configured timeouts whatever the service or the network does.
func (m *Module) remoteSign(k *key, h crypto.Hash, digest []byte, code string, pss bool) ([]byte, error) {
	wallet := time.Duration(m.cfg.WalletTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Duration(m.cfg.Timeout)+wallet)
	defer cancel()
	base := k.signer
	s := &csc.Signer{Client: base.Client, CredentialID: base.CredentialID, Key: base.Key, Credential: base.Credential,
		Certificates: base.Certificates, WalletTimeout: wallet, Description: "PKCS#11 signature",
		Approve: func(ctx context.Context, _ string) (string, error) {
			if len(m.cfg.CodeCommand) > 0 {
				return m.askCode(ctx, k)
			}
			if code == "" {
				return "", errors.New("no code was given for this signature")
			}
			return code, nil
		},
		OnWalletWait: func(responseID string, _ int) {
			m.log.Info("waiting for the holder's approval in the wallet", "credential", base.CredentialID, "request", responseID, "up_to", wallet)
		},
	}
	sign := s.SignDigests
	if pss {
		sign = s.SignDigestsPSS
	}
	sigs, err := sign(ctx, h, [][]byte{digest})
	if err != nil {
		return nil, err
	}
	return sigs[0], nil
}

// pssParams reads CK_RSA_PKCS_PSS_PARAMS (hashAlg, mgf, sLen: three
// CK_ULONGs) and returns its hash; 0 unless the MGF1 hash is the same and the
// salt as long as the hash, which is what the service signs.
func pssParams(b []byte) crypto.Hash {
	if len(b) != 24 {
		return 0
	}
	hashAlg, mgf, sLen := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:]), binary.NativeEndian.Uint64(b[16:])
	for _, p := range []struct {
		h         crypto.Hash
		mech, mgf uint
	}{{crypto.SHA256, CKM_SHA256, CKG_MGF1_SHA256}, {crypto.SHA384, CKM_SHA384, CKG_MGF1_SHA384}, {crypto.SHA512, CKM_SHA512, CKG_MGF1_SHA512}} {
		if hashAlg == uint64(p.mech) && mgf == uint64(p.mgf) && sLen == uint64(p.h.Size()) {
			return p.h
		}
	}
	return 0
}

// contextLogin says whether the application gives key k's code with a
// context-specific login (CKA_ALWAYS_AUTHENTICATE): a key approved by a
// code, unless the configuration's code command asks for it.
func (m *Module) contextLogin(k *key) bool {
	return k.approval != string(selo.ApprovalWallet) && len(m.cfg.CodeCommand) == 0
}

// askCode runs the configured code command, bounded by the wallet timeout
// (the time a holder is given to approve), and returns the first line it
// prints.
func (m *Module) askCode(ctx context.Context, k *key) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(m.cfg.WalletTimeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, m.cfg.CodeCommand[0], m.cfg.CodeCommand[1:]...)
	cmd.Env = append(os.Environ(), "SELO_CREDENTIAL="+k.signer.CredentialID, "SELO_CREDENTIAL_LABEL="+k.label, "SELO_APPROVAL="+k.approval)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &out, n: 1024}
	if err := cmd.Run(); err != nil {
		m.log.Warn("code command failed", "err", err)
		return "", selo.Errorf(selo.EFORBIDDEN, "the code command gave no code: %v", err)
	}
	code, _, _ := strings.Cut(out.String(), "\n")
	code = strings.TrimSpace(code)
	if code == "" {
		return "", selo.Errorf(selo.EFORBIDDEN, "the code command gave no code")
	}
	return code, nil
}

// limitedWriter keeps the first n bytes written.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(l.n, len(p))
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// rawECDSA turns an ASN.1 ECDSA signature into PKCS#11's r||s of size bytes.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, errors.New("malformed ECDSA signature")
	}
	half := size / 2
	if len(sig.R.Bytes()) > half || len(sig.S.Bytes()) > half {
		return nil, errors.New("ECDSA signature too long for the curve")
	}
	out := make([]byte, size)
	sig.R.FillBytes(out[:half])
	sig.S.FillBytes(out[half:])
	return out, nil
}

// digestInfo is PKCS#1's DigestInfo.
type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// ParseDigestInfo reads the DER DigestInfo that CKM_RSA_PKCS is given and
// returns its hash (SHA-256, SHA-384 or SHA-512) and digest.
func ParseDigestInfo(b []byte) (crypto.Hash, []byte, error) {
	var di digestInfo
	rest, err := asn1.Unmarshal(b, &di)
	if err != nil {
		return 0, nil, err
	}
	if len(rest) != 0 {
		return 0, nil, errors.New("data after the DigestInfo")
	}
	p := di.Algorithm.Parameters
	if len(p.FullBytes) != 0 && !(p.Tag == asn1.TagNull && len(p.Bytes) == 0) {
		return 0, nil, errors.New("DigestInfo with hash parameters")
	}
	h := csc.OIDHash(di.Algorithm.Algorithm.String())
	if h == 0 {
		return 0, nil, errors.New("DigestInfo of a hash other than SHA-256, SHA-384 or SHA-512")
	}
	if len(di.Digest) != h.Size() {
		return 0, nil, errors.New("DigestInfo's digest has the wrong length")
	}
	return h, di.Digest, nil
}
