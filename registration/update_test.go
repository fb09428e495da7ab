package registration_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki/pkitest"
	"github.com/selo-qtsp/selo/registration"
)

// Ids of the hierarchy that replaces testenv's in these tests.
const (
	newRootID      = "root-ecc-t2"
	newQualifiedID = "qualified-ecc-t2"
)

// updateFixture is a provider that issued a certificate under testenv's
// qualified CA, then made a new hierarchy and retired the old issuing CA.
type updateFixture struct {
	*fixture
	svc  *registration.Service // wired with the authority configured for the new CA
	auth *authority.Authority
	cert *selo.Certificate
	key  crypto.Signer
}

// issueFor issues a qualified-sign certificate for a fresh key of keyKind
// under the old CA.
func issueFor(t *testing.T, env *testenv.Env, keyKind string) (*selo.Certificate, crypto.Signer) {
	t.Helper()
	key := pkitest.NewKey(t, keyKind)
	csr := pkitest.NewCSR(t, key, pkitest.Request("qualified-sign", key.Public()))
	cert, err := env.Authority.Issue(context.Background(), testenv.Actor, authority.IssueRequest{Profile: "qualified-sign", CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newUpdateFixture(t *testing.T, keyKind string) *updateFixture {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	cert, key := issueFor(t, f.env, keyKind)
	for _, o := range []authority.CreateCAOptions{
		{ID: newRootID, Name: "Selo Test Root CA ECC T2", Organization: "Selo Test Trust Services", Country: "PT", KeyAlgorithm: selo.KeyECDSAP384, ValidityDays: 9000},
		{ID: newQualifiedID, Name: "Selo Test Qualified CA ECC T2", Organization: "Selo Test Trust Services", Country: "PT", ParentID: newRootID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 3650},
	} {
		if _, err := f.env.Authority.CreateCA(ctx, testenv.Actor, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.env.Authority.RetireCA(ctx, testenv.Actor, testenv.QualifiedID); err != nil {
		t.Fatal(err)
	}
	// The operator points the qualified profiles at the new CA (profile_ca
	// in selo.yaml) and restarts: a new authority over the same store.
	profileCA := map[string]string{}
	for p, ca := range testenv.ProfileCA {
		profileCA[p] = ca
		if ca == testenv.QualifiedID {
			profileCA[p] = newQualifiedID
		}
	}
	auth, err := authority.New(authority.Config{Store: f.env.Store, Keys: f.env.Keys, Profiles: f.env.Profiles, Linter: f.env.Linter,
		Clock: f.clock, BaseURL: testenv.BaseURL, ProfileCA: profileCA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	svc := testenv.RegistrationService(t, f.env.Store, auth, f.env.Keys, func(c *registration.Config) {
		c.Mailer, c.Clock = f.mail, f.clock
	})
	return &updateFixture{fixture: f, svc: svc, auth: auth, cert: cert, key: key}
}

func certPEM(c *selo.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

func signChallenge(t *testing.T, key crypto.Signer, challenge string, opts crypto.SignerOpts) []byte {
	t.Helper()
	digest := sha256.Sum256([]byte(challenge))
	sig, err := key.Sign(rand.Reader, digest[:], opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func (u *updateFixture) update(t *testing.T, opts crypto.SignerOpts) (*registration.UpdateResult, error) {
	t.Helper()
	ch, err := u.svc.StartUpdate(context.Background(), certPEM(u.cert))
	if err != nil {
		t.Fatalf("StartUpdate: %v", err)
	}
	return u.svc.CompleteUpdate(context.Background(), ch.Challenge, signChallenge(t, u.key, ch.Challenge, opts))
}

func TestUpdateReissuesUnderNewCA(t *testing.T) {
	for _, tt := range []struct {
		name, key string
		opts      crypto.SignerOpts
	}{
		{"ecdsa", "ecdsa-p256", crypto.SHA256},
		{"rsa pkcs1v15", "rsa-3072", crypto.SHA256},
		{"rsa pss", "rsa-3072", &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpdateFixture(t, tt.key)
			ctx := context.Background()
			res, err := u.update(t, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := x509.ParseCertificate(u.cert.DER)
			nw, _ := x509.ParseCertificate(res.Certificate.DER)
			switch {
			case res.Certificate.CAID != newQualifiedID || res.Already || res.Replaced != u.cert.Serial:
				t.Fatalf("result %+v", res)
			case !bytes.Equal(old.RawSubjectPublicKeyInfo, nw.RawSubjectPublicKeyInfo):
				t.Fatal("the public key changed")
			case !old.NotAfter.Equal(nw.NotAfter):
				t.Fatalf("notAfter %s, want %s", nw.NotAfter, old.NotAfter)
			case old.Subject.String() != nw.Subject.String():
				t.Fatalf("subject %s, want %s", nw.Subject, old.Subject)
			case len(res.Chain) != 2 || res.Chain[1].Subject.CommonName != "Selo Test Root CA ECC T2":
				t.Fatalf("chain %v", res.Chain)
			}
			if err := nw.CheckSignatureFrom(res.Chain[0]); err != nil {
				t.Fatalf("not signed by the new CA: %v", err)
			}
			stored, err := u.env.Store.FindCertificate(ctx, u.cert.Serial)
			if err != nil || stored.Status != selo.CertSuperseded || stored.SupersededBy != res.Certificate.Serial {
				t.Fatalf("old certificate %+v, %v", stored, err)
			}
		})
	}
}

func TestUpdateRetryReturnsSameCertificate(t *testing.T) {
	u := newUpdateFixture(t, "ecdsa-p256")
	first, err := u.update(t, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// The holder's tool was interrupted before installing: it starts again
	// with the old certificate and gets the same new one.
	again, err := u.update(t, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Already || again.Certificate.Serial != first.Certificate.Serial {
		t.Fatalf("retry gave %s (already %v), want %s", again.Certificate.Serial, again.Already, first.Certificate.Serial)
	}
	// The new certificate itself has nothing to update.
	_, err = u.svc.StartUpdate(context.Background(), first.Certificate.DER)
	code(t, err, selo.ECONFLICT)
	certs, err := u.env.Store.ListCertificates(context.Background(), selo.CertificateFilter{CAID: newQualifiedID})
	if err != nil || len(certs) != 1 {
		t.Fatalf("certificates under the new CA: %d, %v", len(certs), err)
	}
}

func TestUpdateConcurrentAnswersMakeOneCertificate(t *testing.T) {
	u := newUpdateFixture(t, "ecdsa-p256")
	ctx := context.Background()
	// Two challenges, each answered: the second replaced the first, so at
	// most one completes by its own signature; the other is refused or is
	// answered with the winner's certificate. Never two new certificates.
	var wg sync.WaitGroup
	serials := make(chan string, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := u.svc.StartUpdate(ctx, u.cert.DER)
			if err != nil {
				return
			}
			digest := sha256.Sum256([]byte(ch.Challenge))
			sig, err := u.key.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				return
			}
			if res, err := u.svc.CompleteUpdate(ctx, ch.Challenge, sig); err == nil {
				serials <- res.Certificate.Serial
			}
		}()
	}
	wg.Wait()
	close(serials)
	seen := map[string]bool{}
	for s := range serials {
		seen[s] = true
	}
	certs, err := u.env.Store.ListCertificates(ctx, selo.CertificateFilter{CAID: newQualifiedID})
	if err != nil || len(certs) > 1 || len(seen) > 1 {
		t.Fatalf("new certificates %d, answered serials %v, %v", len(certs), seen, err)
	}
}

func TestUpdateRefusals(t *testing.T) {
	ctx := context.Background()
	t.Run("wrong signature", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, err := u.svc.StartUpdate(ctx, certPEM(u.cert))
		if err != nil {
			t.Fatal(err)
		}
		other := pkitest.NewKey(t, "ecdsa-p256")
		_, err = u.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, other, ch.Challenge, crypto.SHA256))
		code(t, err, selo.EUNAUTHORIZED)
		// A signature over another text does not do either.
		_, err = u.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, u.key, ch.Challenge+"x", crypto.SHA256))
		code(t, err, selo.EUNAUTHORIZED)
		// The right one still works: wrong tries count, they do not kill it at once.
		if _, err := u.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, u.key, ch.Challenge, crypto.SHA256)); err != nil {
			t.Fatal(err)
		}
		u.wantAudit(t, "certificate.update", selo.OutcomeFailure, "does not verify")
	})
	t.Run("too many wrong signatures", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		for range registration.DefaultMaxCodeFailures {
			_, err := u.svc.CompleteUpdate(ctx, ch.Challenge, []byte("junk"))
			code(t, err, selo.EUNAUTHORIZED)
		}
		_, err := u.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, u.key, ch.Challenge, crypto.SHA256))
		code(t, err, selo.EFORBIDDEN)
	})
	t.Run("replayed challenge", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		sig := signChallenge(t, u.key, ch.Challenge, crypto.SHA256)
		if _, err := u.svc.CompleteUpdate(ctx, ch.Challenge, sig); err != nil {
			t.Fatal(err)
		}
		_, err := u.svc.CompleteUpdate(ctx, ch.Challenge, sig)
		code(t, err, selo.EUNAUTHORIZED)
	})
	t.Run("expired challenge", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		u.clock.Add(registration.UpdateChallengeValidity + time.Second)
		_, err := u.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, u.key, ch.Challenge, crypto.SHA256))
		code(t, err, selo.EUNAUTHORIZED)
	})
	t.Run("replaced challenge", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		first, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		if _, err := u.svc.StartUpdate(ctx, certPEM(u.cert)); err != nil {
			t.Fatal(err)
		}
		_, err := u.svc.CompleteUpdate(ctx, first.Challenge, signChallenge(t, u.key, first.Challenge, crypto.SHA256))
		code(t, err, selo.EUNAUTHORIZED)
	})
	t.Run("forged challenge", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		forged := ch.Challenge[:len(ch.Challenge)-4] + "0000"
		if forged == ch.Challenge {
			forged = ch.Challenge[:len(ch.Challenge)-4] + "1111"
		}
		_, err := u.svc.CompleteUpdate(ctx, forged, signChallenge(t, u.key, forged, crypto.SHA256))
		code(t, err, selo.EUNAUTHORIZED)
		for _, bad := range []string{"", "hello", strings.ToUpper(ch.Challenge), ch.Challenge + "\n", strings.Repeat("a", 300)} {
			_, err := u.svc.CompleteUpdate(ctx, bad, []byte("sig"))
			code(t, err, selo.EINVALID)
		}
	})
	t.Run("signature size", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		_, err := u.svc.CompleteUpdate(ctx, ch.Challenge, nil)
		code(t, err, selo.EINVALID)
		_, err = u.svc.CompleteUpdate(ctx, ch.Challenge, make([]byte, registration.MaxUpdateSignatureBytes+1))
		code(t, err, selo.EINVALID)
	})
	t.Run("revoked certificate", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		if _, _, err := u.auth.Revoke(ctx, "officer", authority.RevokeRequest{Serial: u.cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
			t.Fatal(err)
		}
		_, err := u.svc.StartUpdate(ctx, certPEM(u.cert))
		code(t, err, selo.EFORBIDDEN)
		u.wantAudit(t, "certificate.update.start", selo.OutcomeFailure, "revoked")
	})
	t.Run("revoked between start and complete", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		ch, _ := u.svc.StartUpdate(ctx, certPEM(u.cert))
		if _, _, err := u.auth.Revoke(ctx, "officer", authority.RevokeRequest{Serial: u.cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
			t.Fatal(err)
		}
		_, err := u.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, u.key, ch.Challenge, crypto.SHA256))
		code(t, err, selo.EFORBIDDEN)
	})
	t.Run("not from this provider", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		// Another CA's certificate, even one that borrows a real serial.
		key := pkitest.NewKey(t, "ecdsa-p256")
		x, _ := x509.ParseCertificate(u.cert.DER)
		tmpl := &x509.Certificate{SerialNumber: x.SerialNumber, Subject: x.Subject, NotBefore: x.NotBefore, NotAfter: x.NotAfter}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = u.svc.StartUpdate(ctx, der)
		code(t, err, selo.ENOTFOUND)
		_, err = u.svc.StartUpdate(ctx, []byte("not a certificate"))
		code(t, err, selo.EINVALID)
		_, err = u.svc.StartUpdate(ctx, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))
		code(t, err, selo.EINVALID)
		_, err = u.svc.StartUpdate(ctx, make([]byte, registration.MaxUpdateCertificateBytes+1))
		code(t, err, selo.ETOOLARGE)
	})
	t.Run("ca not retired", func(t *testing.T) {
		f := newFixture(t)
		cert, _ := issueFor(t, f.env, "ecdsa-p256")
		_, err := f.svc.StartUpdate(ctx, cert.DER)
		code(t, err, selo.ECONFLICT)
		if !strings.Contains(selo.ErrorMessage(err), "nothing to update") {
			t.Fatalf("message %q", selo.ErrorMessage(err))
		}
	})
	t.Run("no successor configured", func(t *testing.T) {
		u := newUpdateFixture(t, "ecdsa-p256")
		// The old wiring still names the retired CA for the profile.
		ch, err := u.fixture.svc.StartUpdate(ctx, certPEM(u.cert))
		if err != nil {
			t.Fatal(err)
		}
		_, err = u.fixture.svc.CompleteUpdate(ctx, ch.Challenge, signChallenge(t, u.key, ch.Challenge, crypto.SHA256))
		code(t, err, selo.ECONFLICT)
		if !strings.Contains(selo.ErrorMessage(err), "cannot be updated yet") {
			t.Fatalf("message %q", selo.ErrorMessage(err))
		}
	})
}

func TestUpdateAudited(t *testing.T) {
	u := newUpdateFixture(t, "ecdsa-p256")
	if _, err := u.update(t, crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	u.wantAudit(t, "certificate.update.start", selo.OutcomeSuccess, "")
	u.wantAudit(t, "certificate.update", selo.OutcomeSuccess, newQualifiedID)
	u.wantAudit(t, "certificate.reissue", selo.OutcomeSuccess, "")
	// No entry holds the challenge or the signature.
	entries, _ := u.env.Store.ListAudit(context.Background(), 0, 10000)
	for _, e := range entries {
		if strings.Contains(e.Details, "selo-update-v1") {
			t.Fatalf("audit entry %s holds the challenge: %s", e.Action, e.Details)
		}
	}
}

// wantAudit fails t unless an audit entry has action, outcome and details
// containing detail.
func (u *updateFixture) wantAudit(t *testing.T, action, outcome, detail string) {
	t.Helper()
	entries, err := u.env.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == action && e.Outcome == outcome && strings.Contains(e.Details, detail) {
			return
		}
	}
	b, _ := json.Marshal(entries[max(0, len(entries)-5):])
	t.Fatalf("no audit entry %s/%s with %q; last: %s", action, outcome, detail, b)
}

func FuzzParseUpdateChallenge(f *testing.F) {
	f.Add(registration.UpdateChallengeText("1f2e", strings.Repeat("ab", 32)))
	f.Add("selo-update-v1\n\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		serial, nonce, err := registration.ParseUpdateChallenge(s)
		if err != nil {
			if selo.ErrorCode(err) != selo.EINVALID {
				t.Fatalf("error code %q", selo.ErrorCode(err))
			}
			return
		}
		if registration.UpdateChallengeText(serial, nonce) != s {
			t.Fatalf("round trip of %q", s)
		}
	})
}

// FuzzParseUpdateCertificate feeds the certificate a holder hands in to
// start an update to its parser. Its realistic seeds (a qualified-sign
// certificate from testenv, DER and PEM) are files in
// testdata/fuzz/FuzzParseUpdateCertificate: building a testenv (an RSA CA
// key, the zlint registry, a store) to issue them took 1.3 s in every fuzz
// process, the coordinator and each worker, out of CI's 10 s.
func FuzzParseUpdateCertificate(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := registration.ParseUpdateCertificate(b)
		if err != nil {
			if code := selo.ErrorCode(err); code != selo.EINVALID && code != selo.ETOOLARGE {
				t.Fatalf("error code %q", code)
			}
			return
		}
		if x == nil {
			t.Fatal("nil certificate without error")
		}
	})
}
