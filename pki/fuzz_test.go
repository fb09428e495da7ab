package pki_test

import (
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// FuzzParseCSR feeds untrusted bytes to the CSR parser: it must never panic,
// every refusal must be EINVALID, and every accepted key must pass the policy.
func FuzzParseCSR(f *testing.F) {
	for _, name := range []string{"rsa1024.csr.der", "rsa2048-e3.csr.der", "rsa8192.csr.der"} {
		f.Add(fixture(f, name))
	}
	// The RSA-2048 request is a file in testdata/fuzz/FuzzParseCSR:
	// generating its key here took about a second in every fuzz process
	// (the coordinator and each worker run this set-up).
	for _, kind := range []string{"ecdsa-p256", "ecdsa-p384"} {
		key := pkitest.NewKey(f, kind)
		der := pkitest.NewCSR(f, key, pkitest.Request("tls-server", key.Public()))
		f.Add(der)
		f.Add(pemOf("CERTIFICATE REQUEST", der))
	}
	key := pkitest.NewKey(f, "ecdsa-p256")
	f.Add(pkitest.NewCSR(f, key, pkitest.Request("qualified-seal", key.Public())))
	f.Add(csrDER(f, testKey(f, "ed25519")))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x80})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := pki.ParseCSR(data)
		if err != nil {
			if selo.ErrorCode(err) != selo.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if err := pki.CheckPublicKey(csr.PublicKey); err != nil {
			t.Fatalf("accepted a csr whose key fails the policy: %v", err)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a csr with a bad signature: %v", err)
		}
		_ = pki.RequestFromCSR(csr)
	})
}

// FuzzLoadProfile feeds arbitrary YAML to the profile loader: it must never
// panic, refusals are EINVALID, and an accepted profile loads again the same.
func FuzzLoadProfile(f *testing.F) {
	for _, data := range pki.BuiltinProfileFiles() {
		f.Add(data)
	}
	f.Add([]byte("name: x\nkind: tls\n"))
	f.Add([]byte("{}"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("name: &a [*a]\n"))
	// One request for every accepted profile: a key generated per input
	// made each accepted profile cost a P-256 key generation.
	req := pkitest.Request("tls-server", pkitest.NewKey(f, "ecdsa-p256").Public())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := pki.LoadProfile(data)
		if err != nil {
			if selo.ErrorCode(err) != selo.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			if msg := selo.ErrorMessage(err); strings.ContainsAny(msg, "\n") {
				t.Fatalf("multi-line message %q", msg)
			}
			return
		}
		if p.Name == "" || len(p.Policies) == 0 || len(p.KeyTypes) == 0 {
			t.Fatalf("accepted an incomplete profile %+v", p)
		}
		// An accepted profile must be usable by CheckRequest without panicking.
		_ = p.CheckRequest(req)
	})
}
