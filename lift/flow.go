// Package lift is the holder's side of Selo's issuance flow (the seed's
// "Certificate Emission Service"): a client of the server's
// /api/v1/lift/{number}/ endpoints and a flow engine that walks an order
// from its "ready to lift" code to an installed certificate.
//
// The flow resumes: what it has done is kept in a state directory written
// atomically, and it asks the server where the order stands before every
// run, so a run killed at any point is finished by running it again. For
// software delivery the key is made on the holder's machine before the CSR
// leaves it and saved encrypted under the holder's .pfx password, so a
// crash never loses it and a rerun never makes a second one; it is removed
// only once the Digital<ORDER>.pfx backup is on disk and the delivery is
// recorded.
package lift

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/youmark/pkcs8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// Points of the flow at which Options.AfterPoint is called, each right
// after what it names is durable (on the server, on disk, or both).
const (
	PointValidated   = "validate"    // order number and code accepted; state directory made
	PointEmailSent   = "email-sent"  // the server e-mailed a verification code, noted in the state
	PointEmailDone   = "email"       // the e-mail address is verified
	PointKeySaved    = "key-saved"   // the key is made and saved encrypted, not yet sent
	PointKeySent     = "key"         // the server recorded the key
	PointCertificate = "certificate" // the certificate is issued and saved in the state directory
	PointPFX         = "pfx"         // Digital<ORDER>.pfx is written and fsynced
	PointDelivered   = "delivered"   // the server recorded the delivery
)

// Points lists every point in the order a fresh software lift passes them.
var Points = []string{PointValidated, PointEmailSent, PointEmailDone, PointKeySaved, PointKeySent,
	PointCertificate, PointPFX, PointDelivered}

// ErrNoEmailCode is what Options.EmailCode returns when it has no code to
// give (a non-interactive run right after the code was e-mailed); Run
// returns it wrapped, and the next run goes on with the code.
var ErrNoEmailCode = errors.New("the e-mailed verification code is needed")

// MinPasswordLength is the shortest .pfx password accepted for a new key.
const MinPasswordLength = 8

// keyFileOpts encrypts the waiting key as PKCS#8 with PBES2: AES-256-CBC
// and PBKDF2-HMAC-SHA256, which OpenSSL also reads.
var keyFileOpts = &pkcs8.Opts{
	Cipher:  pkcs8.AES256CBC,
	KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 210000, HMACHash: crypto.SHA256},
}

// Options drive Run. Client, EmailCode and Password are required.
type Options struct {
	Client *Client
	// StateDir keeps what the flow has done (DefaultStateDir when empty).
	StateDir string
	// OutDir is the existing folder for Digital<ORDER>.pfx (DefaultOutDir when empty).
	OutDir string
	// EmailCode returns the e-mailed verification code; justSent says that
	// this run has just made the server e-mail it. ErrNoEmailCode stops the
	// run until the holder has it.
	EmailCode func(ctx context.Context, justSent bool) (string, error)
	// Password returns the .pfx password, which also encrypts the key while
	// it waits; confirm asks for it twice (a new key).
	Password func(confirm bool) (string, error)
	// AccountPassword returns the first password of the signing account a
	// cloud order opened, asked only while that account has none; confirm
	// asks twice. nil leaves the password unset (the holder runs again).
	AccountPassword func(confirm bool) (string, error)
	// Progress is told each step as it completes (may be nil).
	Progress func(step, total int, message string)
	// AfterPoint is called at each of Points (may be nil): the crash hook.
	AfterPoint func(point string)
	// ResendEmailCode makes the server e-mail a new verification code even
	// when one was sent before.
	ResendEmailCode bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Result is what a finished lift made.
type Result struct {
	Status      *Status
	Certificate *Certificate
	// PFXPath is the backup written (software delivery).
	PFXPath string
	// StateDir is where the flow kept its state.
	StateDir string
}

type runner struct {
	opts     Options
	c        *Client
	dir      string
	st       *state
	total    int
	password string
}

// Run walks the order from wherever it stands to the end of the flow.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.Client == nil || opts.EmailCode == nil || opts.Password == nil {
		return nil, errors.New("lift: Options.Client, EmailCode and Password are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &runner{opts: opts, c: opts.Client, dir: opts.StateDir, total: 5}
	if r.dir == "" {
		var err error
		if r.dir, err = DefaultStateDir(r.c.number); err != nil {
			return nil, err
		}
	}
	return r.run(ctx)
}

func (r *runner) progress(step int, format string, args ...any) {
	if r.opts.Progress != nil {
		r.opts.Progress(step, r.total, fmt.Sprintf(format, args...))
	}
}

func (r *runner) point(name string) {
	if r.opts.AfterPoint != nil {
		r.opts.AfterPoint(name)
	}
}

func (r *runner) save() error { return r.st.save(r.dir) }

func (r *runner) run(ctx context.Context) (*Result, error) {
	number := r.c.number
	status, err := r.c.Status(ctx)
	if err != nil {
		return nil, err
	}
	switch status.Delivery {
	case DeliverySoftware:
	case DeliveryCloud:
		r.total = 4
	case DeliveryToken:
		return nil, selo.Errorf(selo.ENOTIMPLEMENTED, "order %s is for a key on your own token: selo lift makes software and cloud keys only; send your token's CSR through your registration officer", number)
	default:
		return nil, selo.Errorf(selo.EINVALID, "order %s has a delivery this client does not know (%.20q)", number, status.Delivery)
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("make the lift state directory: %w", err)
	}
	if r.st, err = loadState(r.dir, number); err != nil {
		return nil, err
	}
	if err := r.save(); err != nil {
		return nil, err
	}
	r.progress(1, "order %s accepted: %s certificate, %s delivery", number, status.Profile, status.Delivery)
	r.point(PointValidated)

	if status, err = r.verifyEmail(ctx, status); err != nil {
		return nil, err
	}
	r.progress(2, "e-mail address verified")

	var key crypto.Signer
	if status.Delivery == DeliverySoftware {
		if key, status, err = r.softwareKey(ctx, status); err != nil {
			return nil, err
		}
	} else if status.Step == StepSubmitKey {
		if status, err = r.c.SubmitKey(ctx, nil); err != nil {
			return nil, err
		}
		r.point(PointKeySent)
	}
	r.progress(3, "key recorded (public key SHA-256 %s)", status.PublicKeySHA256)

	cert, err := r.certificate(ctx, status, key)
	if err != nil {
		return nil, err
	}
	r.progress(4, "certificate %s issued to %s, valid until %s", cert.Serial, cert.Leaf.Subject.CommonName, cert.Leaf.NotAfter.UTC().Format("2006-01-02"))
	res := &Result{Status: status, Certificate: cert, StateDir: r.dir}
	if status.Delivery == DeliveryCloud {
		return r.cloudAccount(ctx, res)
	}
	if res.PFXPath, res.Status, err = r.backup(ctx, status, key, cert); err != nil {
		return nil, err
	}
	return res, nil
}

// verifyEmail has the server e-mail a code (unless this machine already
// did) and sends the code back.
func (r *runner) verifyEmail(ctx context.Context, status *Status) (*Status, error) {
	if status.Step != StepVerifyEmail {
		return status, nil
	}
	justSent := false
	if r.st.EmailSentAt.IsZero() || r.opts.ResendEmailCode {
		st, err := r.c.Start(ctx)
		if err != nil {
			return nil, err
		}
		status = st
		r.st.EmailSentAt = r.opts.Now().UTC()
		if err := r.save(); err != nil {
			return nil, err
		}
		justSent = true
		r.point(PointEmailSent)
	}
	code, err := r.opts.EmailCode(ctx, justSent)
	if err != nil {
		return nil, fmt.Errorf("order %s: %w", r.c.number, err)
	}
	st, err := r.c.VerifyEmail(ctx, code)
	switch selo.ErrorCode(err) {
	case "":
	case selo.EUNAUTHORIZED:
		return nil, selo.Errorf(selo.EUNAUTHORIZED, "the e-mail verification code is wrong or has expired: use the code in the newest e-mail, or run again with --resend-code for a new one")
	case selo.EFORBIDDEN:
		return nil, selo.Errorf(selo.EFORBIDDEN, "%s; run again with --resend-code for a new one", selo.ErrorMessage(err))
	default:
		return nil, err
	}
	r.point(PointEmailDone)
	return st, nil
}

// softwareKey returns the holder's key: the one saved here, or a new one
// when the order has none yet; and sends it when the server waits for it.
func (r *runner) softwareKey(ctx context.Context, status *Status) (crypto.Signer, *Status, error) {
	key, err := r.loadKey()
	switch {
	case err == nil:
		hash, err := keyHash(key.Public())
		if err != nil {
			return nil, nil, err
		}
		r.st.PublicKeySHA256 = hash
		if status.PublicKeySHA256 != "" && status.PublicKeySHA256 != hash {
			return nil, nil, selo.Errorf(selo.ECONFLICT, "the key saved in %s (SHA-256 %s) is not the key order %s recorded (SHA-256 %s): this order needs a registration officer",
				r.dir, hash, r.c.number, status.PublicKeySHA256)
		}
	case errors.Is(err, os.ErrNotExist):
		if status.PublicKeySHA256 != "" {
			if status.Step == StepDone {
				return nil, status, nil // finished earlier: the key now lives in the .pfx
			}
			return nil, nil, selo.Errorf(selo.ECONFLICT, "order %s already has a key (SHA-256 %s) but it is not on this machine (looked in %s): it cannot be made again; this order needs a registration officer",
				r.c.number, status.PublicKeySHA256, r.dir)
		}
		if key, err = r.newKey(status); err != nil {
			return nil, nil, err
		}
		r.point(PointKeySaved)
	default:
		return nil, nil, err
	}
	if status.Step != StepSubmitKey {
		return key, status, nil
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.c.number}}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make the CSR: %w", err)
	}
	if status, err = r.c.SubmitKey(ctx, der); err != nil {
		return nil, nil, err
	}
	r.point(PointKeySent)
	return key, status, nil
}

// newKey makes a key of a type the profile takes, saves it encrypted under
// the .pfx password and notes its hash in the state.
func (r *runner) newKey(status *Status) (crypto.Signer, error) {
	password, err := r.pass(true)
	if err != nil {
		return nil, err
	}
	if len(password) < MinPasswordLength {
		r.password = ""
		return nil, selo.Errorf(selo.EINVALID, "the .pfx password must have at least %d characters", MinPasswordLength)
	}
	key, err := generateKey(status)
	if err != nil {
		return nil, err
	}
	der, err := pkcs8.MarshalPrivateKey(key, []byte(password), keyFileOpts)
	if err != nil {
		return nil, fmt.Errorf("encrypt the key: %w", err)
	}
	hash, err := keyHash(key.Public())
	if err != nil {
		return nil, err
	}
	err = writeFileExclusive(filepath.Join(r.dir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}))
	if errors.Is(err, os.ErrExist) {
		return nil, selo.Errorf(selo.ECONFLICT, "another selo lift for order %s made a key at the same time: let it finish, then run again", r.c.number)
	} else if err != nil {
		return nil, err
	}
	r.st.PublicKeySHA256 = hash
	if err := r.save(); err != nil {
		return nil, err
	}
	return key, nil
}

// generateKey makes a key of the first type the order's profile takes in
// the client's order of preference: P-256, P-384, then RSA of at least
// 3072 bits.
func generateKey(status *Status) (crypto.Signer, error) {
	var key crypto.Signer
	var err error
	switch {
	case slices.Contains(status.KeyTypes, "ecdsa-p256"):
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case slices.Contains(status.KeyTypes, "ecdsa-p384"):
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case slices.Contains(status.KeyTypes, "rsa"):
		key, err = rsa.GenerateKey(rand.Reader, max(3072, status.MinRSABits))
	default:
		return nil, selo.Errorf(selo.EINVALID, "profile %s takes no key type this client makes (%v)", status.Profile, status.KeyTypes)
	}
	if err != nil {
		return nil, fmt.Errorf("make the key: %w", err)
	}
	return key, nil
}

// loadKey decrypts the key waiting in the state directory;
// os.ErrNotExist when there is none.
func (r *runner) loadKey() (crypto.Signer, error) {
	path := filepath.Join(r.dir, keyFile)
	b, err := readLimited(path, maxStateBytes)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
		return nil, selo.Errorf(selo.EINVALID, "%s is not an encrypted key file: it is damaged", path)
	}
	password, err := r.pass(false)
	if err != nil {
		return nil, err
	}
	key, _, err := pkcs8.ParsePrivateKey(block.Bytes, []byte(password))
	if err != nil {
		r.password = "" // let a caller that asks again get a new try
		return nil, selo.Errorf(selo.EINVALID, "the password does not open the key saved in %s: give the .pfx password chosen when the key was made", r.dir)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, selo.Errorf(selo.EINVALID, "%s holds a key of type %T", path, key)
	}
	return signer, nil
}

func (r *runner) pass(confirm bool) (string, error) {
	if r.password != "" {
		return r.password, nil
	}
	p, err := r.opts.Password(confirm)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", selo.Errorf(selo.EINVALID, "the .pfx password is empty")
	}
	r.password = p
	return p, nil
}

// certificate has the certificate issued (or fetches it), checks it is for
// the order's key and saves it in the state directory.
func (r *runner) certificate(ctx context.Context, status *Status, key crypto.Signer) (*Certificate, error) {
	var cert *Certificate
	var err error
	if status.Step == StepIssue {
		cert, err = r.c.Issue(ctx)
	} else {
		cert, err = r.c.Certificate(ctx)
	}
	if err != nil {
		return nil, err
	}
	hash, err := keyHash(cert.Leaf.PublicKey)
	if err != nil {
		return nil, err
	}
	want := status.PublicKeySHA256
	if key != nil {
		if want, err = keyHash(key.Public()); err != nil {
			return nil, err
		}
	}
	if hash != want {
		return nil, selo.Errorf(selo.EINTERNAL, "the server sent a certificate for another key (SHA-256 %s, want %s)", hash, want)
	}
	if err := cert.Leaf.CheckSignatureFrom(cert.Chain[0]); err != nil {
		return nil, selo.Errorf(selo.EINTERNAL, "the certificate is not signed by the CA the server sent with it: %v", err)
	}
	if r.st.CertificateSerial != cert.Serial {
		all := append([]*x509.Certificate{cert.Leaf}, cert.Chain...)
		if err := writeFileAtomic(filepath.Join(r.dir, certFile), pki.EncodePEM(all...), 0o644); err != nil {
			return nil, err
		}
		r.st.CertificateSerial = cert.Serial
		if err := r.save(); err != nil {
			return nil, err
		}
	}
	r.point(PointCertificate)
	return cert, nil
}

// backup writes Digital<ORDER>.pfx, confirms the delivery and only then
// removes the key waiting here.
func (r *runner) backup(ctx context.Context, status *Status, key crypto.Signer, cert *Certificate) (string, *Status, error) {
	if key == nil {
		if r.st.PFXPath == "" {
			r.progress(5, "order %s was lifted already", r.c.number)
		} else {
			r.progress(5, "order %s was lifted already: the backup is %s", r.c.number, r.st.PFXPath)
		}
		return r.st.PFXPath, status, nil
	}
	out := r.opts.OutDir
	if out == "" {
		var err error
		if out, err = DefaultOutDir(); err != nil {
			return "", nil, err
		}
	}
	if fi, err := os.Stat(out); err != nil || !fi.IsDir() {
		return "", nil, selo.Errorf(selo.EINVALID, "the folder for the .pfx, %s, does not exist", out)
	}
	password, err := r.pass(false)
	if err != nil {
		return "", nil, err
	}
	der, err := pki.EncodePFX(key, cert.Leaf, cert.Chain, password)
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(out, PFXName(r.c.number))
	if err := writeFileAtomic(path, der, 0o600); err != nil {
		return "", nil, err
	}
	r.st.PFXPath = path
	if err := r.save(); err != nil {
		return "", nil, err
	}
	r.point(PointPFX)
	if status.Step != StepDone {
		if status, err = r.c.ConfirmDelivery(ctx); err != nil {
			return "", nil, err
		}
	}
	r.st.Delivered = true
	if err := r.save(); err != nil {
		return "", nil, err
	}
	r.point(PointDelivered)
	if err := removeDurably(filepath.Join(r.dir, keyFile)); err != nil {
		return "", nil, fmt.Errorf("remove the key copy (the .pfx holds it): %w", err)
	}
	r.progress(5, "backup written to %s; delivery confirmed", path)
	return path, status, nil
}

// PFXName is the backup's file name for an order: Digital<ORDER>.pfx.
func PFXName(number string) string { return "Digital" + number + ".pfx" }

// keyHash is the hex SHA-256 of the key's SubjectPublicKeyInfo DER, as the
// server records it.
func keyHash(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", selo.Errorf(selo.EINVALID, "unsupported public key")
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// cloudAccount reads where the cloud order's credential landed and, while
// its account has no password, sets the first one.
func (r *runner) cloudAccount(ctx context.Context, res *Result) (*Result, error) {
	st, err := r.c.Status(ctx)
	if err != nil {
		return nil, err
	}
	res.Status = st
	if st.AccountPasswordSet || r.opts.AccountPassword == nil {
		return res, nil
	}
	password, err := r.opts.AccountPassword(true)
	if err != nil {
		return nil, err
	}
	if res.Status, err = r.c.SetAccountPassword(ctx, password); err != nil {
		return nil, err
	}
	return res, nil
}
