package pki_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

// fixture reads a CSR from testdata. The RSA fixtures were made once with
// OpenSSL, because keys of 8192 bits and more take Go tens of seconds:
//
//	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:BITS -pkeyopt rsa_keygen_pubexp:E > k
//	openssl req -new -key k -subj /CN=www.example.pt -addext subjectAltName=DNS:www.example.pt -outform DER
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	keyCacheMu sync.Mutex
	keyCache   = map[string]crypto.Signer{}
)

// testKey returns a cached key for a name: generating RSA 8192 keys is slow.
func testKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	keyCacheMu.Lock()
	defer keyCacheMu.Unlock()
	if k, ok := keyCache[name]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch name {
	case "rsa-2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "p224":
		k, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key %s", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyCache[name] = k
	return k
}

func csrDER(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "www.example.pt"}, DNSNames: []string{"www.example.pt"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseCSR(t *testing.T) {
	good := csrDER(t, testKey(t, "p256"))
	badSig := bytes.Clone(good)
	badSig[len(badSig)-3] ^= 0xff
	for _, tc := range []struct {
		name string
		data func() []byte
		want string // "" means accepted
	}{
		{"rsa 1024", func() []byte { return fixture(t, "rsa1024.csr.der") }, "rsa key of 1024 bits is outside 2048..8192 bits"},
		{"rsa 2048", func() []byte { return csrDER(t, testKey(t, "rsa-2048")) }, ""},
		{"rsa 8192", func() []byte { return fixture(t, "rsa8192.csr.der") }, ""},
		{"rsa 8200", func() []byte { return fixture(t, "rsa8200.csr.der") }, "rsa key of 8200 bits is outside"},
		{"rsa e=3", func() []byte { return fixture(t, "rsa2048-e3.csr.der") }, "rsa public exponent 3 is not 65537"},
		{"p224", func() []byte { return csrDER(t, testKey(t, "p224")) }, "P-224"},
		{"p256 der", func() []byte { return good }, ""},
		{"p256 pem", func() []byte { return pemOf("CERTIFICATE REQUEST", good) }, ""},
		{"p256 new pem", func() []byte { return pemOf("NEW CERTIFICATE REQUEST", good) }, ""},
		{"p256 pem crlf and spaces", func() []byte {
			return append([]byte("\r\n  "), bytes.ReplaceAll(pemOf("CERTIFICATE REQUEST", good), []byte("\n"), []byte("\r\n"))...)
		}, ""},
		{"p384", func() []byte { return csrDER(t, testKey(t, "p384")) }, ""},
		{"p521", func() []byte { return csrDER(t, testKey(t, "p521")) }, "ecdsa curve P-521 is not allowed"},
		{"ed25519", func() []byte { return csrDER(t, testKey(t, "ed25519")) }, "ed25519 keys are not allowed"},
		{"bad signature", func() []byte { return badSig }, "csr signature does not verify"},
		{"garbage", func() []byte { return []byte("hello, I am not a CSR") }, "csr is neither pem nor der"},
		{"garbage der", func() []byte { return []byte{0x30, 0x03, 0x02, 0x01} }, "csr is not a valid pkcs#10 request"},
		{"empty", func() []byte { return nil }, "csr is empty"},
		{"wrong pem type", func() []byte { return pemOf("CERTIFICATE", good) }, `pem block is "CERTIFICATE", not a certificate request`},
		{"broken pem", func() []byte { return []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA") }, "csr is not valid pem"},
		{"pem trailing garbage", func() []byte { return append(pemOf("CERTIFICATE REQUEST", good), "junk"...) }, "trailing data"},
		{"two pem blocks", func() []byte {
			return append(pemOf("CERTIFICATE REQUEST", good), pemOf("CERTIFICATE REQUEST", good)...)
		}, "trailing data"},
		{"der trailing garbage", func() []byte { return append(bytes.Clone(good), 0, 0) }, "csr is not a valid pkcs#10 request"},
		{"oversize", func() []byte {
			return append(pemOf("CERTIFICATE REQUEST", good), bytes.Repeat([]byte(" "), pki.MaxCSRSize)...)
		}, "csr is larger than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csr, err := pki.ParseCSR(tc.data())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if csr.Subject.CommonName != "www.example.pt" {
					t.Errorf("subject %v", csr.Subject)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %q", tc.want)
			}
			msg := selo.ErrorMessage(err)
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(msg, tc.want) {
				t.Fatalf("got %v, want EINVALID containing %q", err, tc.want)
			}
			if msg != strings.ToLower(msg[:1])+msg[1:] {
				t.Errorf("message %q does not start lower case", msg)
			}
		})
	}
}

func TestKeyDescription(t *testing.T) {
	for name, want := range map[string]string{"p256": "ECDSA P-256", "p384": "ECDSA P-384", "rsa-2048": "RSA 2048", "ed25519": "Ed25519"} {
		if got := pki.KeyDescription(testKey(t, name).Public()); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if err := pki.CheckPublicKey(nil); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("nil key: %v", err)
	}
	if err := pki.CheckPublicKey(&ecdsa.PublicKey{Curve: elliptic.P256(), X: big.NewInt(1), Y: big.NewInt(1)}); selo.ErrorCode(err) != selo.EINVALID {
		t.Errorf("point off the curve: %v", err)
	}
}

func TestRequestFromCSR(t *testing.T) {
	key := testKey(t, "p256")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "www.example.pt"}, DNSNames: []string{"www.example.pt"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.1")},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	req := pki.RequestFromCSR(csr)
	if req.Subject.CommonName != "www.example.pt" || len(req.DNSNames) != 1 || !key.Public().(*ecdsa.PublicKey).Equal(req.PublicKey) {
		t.Fatalf("request %+v", req)
	}
	// The IP address SAN cannot be certified and must not be dropped silently.
	err = pki.BuiltinProfiles()["tls-server"].CheckRequest(req)
	if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "ip address 192.0.2.1") {
		t.Fatalf("got %v, want refusal of the ip address", err)
	}
	// A CSR made by pkitest for each profile goes through CheckRequest.
	for name := range pki.BuiltinProfiles() {
		k := pkitest.NewKey(t, "ecdsa-p256")
		want := pkitest.Request(name, k.Public())
		csr, err := pki.ParseCSR(pkitest.NewCSR(t, k, want))
		if err != nil {
			t.Fatal(err)
		}
		got := pki.RequestFromCSR(csr)
		got.Validated = want.Validated // what the registration authority adds
		if err := pki.BuiltinProfiles()[name].CheckRequest(got); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
