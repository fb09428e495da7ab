package soft

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/keystore/keystoretest"
)

func newMasterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func openStore(t testing.TB, dir string, mk []byte) *Store {
	t.Helper()
	s, err := Open(dir, mk)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	keystoretest.Run(t, func(t *testing.T) selo.KeyStore {
		return openStore(t, filepath.Join(t.TempDir(), "keys"), newMasterKey(t))
	})
}

func TestReopenKeepsKeys(t *testing.T) {
	ctx := context.Background()
	dir, mk := filepath.Join(t.TempDir(), "keys"), newMasterKey(t)
	s := openStore(t, dir, mk)
	pubs := map[string]crypto.PublicKey{}
	for _, c := range []struct {
		id  string
		alg selo.KeyAlgorithm
		exp bool
	}{{"ca/root-ecc-v1", selo.KeyECDSAP384, false}, {"cert/0a1b2c", selo.KeyRSA2048, true}} {
		signer, err := s.GenerateKey(ctx, c.id, c.alg, selo.KeyOptions{Exportable: c.exp})
		if err != nil {
			t.Fatal(err)
		}
		pubs[c.id] = signer.Public()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, bytes.Clone(mk))
	for id, pub := range pubs {
		signer, err := s.Signer(ctx, id)
		if err != nil {
			t.Fatalf("Signer(%s) after reopening: %v", id, err)
		}
		if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: public key changed across reopening", id)
		}
		keystoretest.CheckSigns(t, signer)
	}
	if _, err := s.ExportKey(ctx, "ca/root-ecc-v1"); selo.ErrorCode(err) != selo.EFORBIDDEN {
		t.Errorf("export of the CA key after reopening: got %v, want EFORBIDDEN", err)
	}
	if _, err := s.ExportKey(ctx, "cert/0a1b2c"); err != nil {
		t.Errorf("export of an exportable key after reopening: %v", err)
	}
}

func TestWrongMasterKeyFailsAtOpen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	s := openStore(t, dir, newMasterKey(t))
	if _, err := s.GenerateKey(ctx, "ca/root", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	checkWrong := func(t *testing.T) {
		t.Helper()
		_, err := Open(dir, newMasterKey(t))
		if selo.ErrorCode(err) != selo.EUNAUTHORIZED || !strings.Contains(selo.ErrorMessage(err), "wrong master key or passphrase") {
			t.Fatalf("Open with a wrong master key: got %v, want EUNAUTHORIZED 'wrong master key or passphrase'", err)
		}
	}
	checkWrong(t)

	// Without the check file the store falls back to a key file, and must not
	// write a new check value under the wrong key.
	if err := os.Remove(filepath.Join(dir, CheckFile)); err != nil {
		t.Fatal(err)
	}
	checkWrong(t)
	if _, err := os.Stat(filepath.Join(dir, CheckFile)); !os.IsNotExist(err) {
		t.Fatalf("a wrong master key wrote a check file (stat: %v)", err)
	}
}

func TestCheckFileRecreated(t *testing.T) {
	ctx := context.Background()
	dir, mk := filepath.Join(t.TempDir(), "keys"), newMasterKey(t)
	s := openStore(t, dir, mk)
	if _, err := s.GenerateKey(ctx, "a", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := os.Remove(filepath.Join(dir, CheckFile)); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, mk)
	if _, err := s.Signer(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckFile)); err != nil {
		t.Fatalf("check file not recreated: %v", err)
	}
}

func TestBadMasterKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := Open(t.TempDir(), make([]byte, n)); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("Open with a %d-byte master key: got %v, want EINVALID", n, err)
		}
	}
}

// TestTamperedFileNeverGivesAKey flips every bit position's byte of a key file
// in turn: each must fail to unseal, never yield a different key, and never
// turn into an exportable key.
func TestTamperedFileNeverGivesAKey(t *testing.T) {
	ctx := context.Background()
	dir, mk := filepath.Join(t.TempDir(), "keys"), newMasterKey(t)
	s := openStore(t, dir, mk)
	const id = "ca/root-ecc-v1"
	if _, err := s.GenerateKey(ctx, id, selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fileName(id))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		for _, mask := range []byte{0x01, 0x80} {
			data := bytes.Clone(orig)
			data[i] ^= mask
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			fresh := openStore(t, dir, mk) // nothing cached
			if signer, err := fresh.Signer(ctx, id); err == nil || signer != nil {
				t.Fatalf("byte %d ^ %#x: Signer succeeded on a tampered file", i, mask)
			} else if selo.ErrorCode(err) != selo.EINTERNAL {
				t.Fatalf("byte %d ^ %#x: got %v, want an internal error", i, mask, err)
			}
			if _, err := fresh.ExportKey(ctx, id); err == nil {
				t.Fatalf("byte %d ^ %#x: ExportKey succeeded on a tampered file", i, mask)
			}
			_ = fresh.Close()
		}
	}
	for _, n := range []int{0, 1, headerLen, headerLen + nonceLen, len(orig) - 1} {
		if err := os.WriteFile(path, orig[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		fresh := openStore(t, dir, mk)
		if _, err := fresh.Signer(ctx, id); err == nil {
			t.Fatalf("file truncated to %d bytes: Signer succeeded", n)
		}
	}
}

func TestRenamedFileIsRefused(t *testing.T) {
	ctx := context.Background()
	dir, mk := filepath.Join(t.TempDir(), "keys"), newMasterKey(t)
	s := openStore(t, dir, mk)
	// The attacker's aim: make the exportable key answer as the CA key, or
	// the CA key answer as an exportable key.
	if _, err := s.GenerateKey(ctx, "ca/root", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GenerateKey(ctx, "cert/01", selo.KeyECDSAP256, selo.KeyOptions{Exportable: true}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	root, cert := filepath.Join(dir, fileName("ca/root")), filepath.Join(dir, fileName("cert/01"))
	if err := os.Rename(root, cert); err != nil { // the CA key's file now sits under cert/01's name
		t.Fatal(err)
	}
	s = openStore(t, dir, mk)
	if _, err := s.Signer(ctx, "cert/01"); err == nil {
		t.Fatal("a key file renamed to another ID opened as that ID")
	}
	if _, err := s.ExportKey(ctx, "cert/01"); err == nil {
		t.Fatal("a CA key renamed to an exportable key's name was exported")
	}
	if _, err := s.Signer(ctx, "ca/root"); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("Signer(ca/root) after its file moved: got %v, want ENOTFOUND", err)
	}
}

// TestNoPlaintextOnDisk looks for the key material itself in every file the
// store writes: the PKCS#8 DER, the private scalar or primes, and PEM armour.
func TestNoPlaintextOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	s := openStore(t, dir, newMasterKey(t))

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var secrets [][]byte
	for i, k := range []crypto.Signer{ec, rk} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, der, der[len(der)-64:]) // the tail is private in both
		if _, err := s.ImportKey(ctx, "imported/"+string(rune('a'+i)), k, selo.KeyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	secrets = append(secrets, ecDER, ec.D.FillBytes(make([]byte, 32)), rk.Primes[0].Bytes(), rk.Primes[1].Bytes(), rk.D.Bytes()[:32])

	if _, err := s.GenerateKey(ctx, "generated/exportable", selo.KeyECDSAP384, selo.KeyOptions{Exportable: true}); err != nil {
		t.Fatal(err)
	}
	exp, err := s.ExportKey(ctx, "generated/exportable")
	if err != nil {
		t.Fatal(err)
	}
	expDER, _ := x509.MarshalPKCS8PrivateKey(exp)
	secrets = append(secrets, expDER, exp.(*ecdsa.PrivateKey).D.FillBytes(make([]byte, 48)))

	// Not secrets, but would show a PKCS#8 or PEM structure in the clear.
	markers := [][]byte{
		[]byte("PRIVATE KEY"),
		{0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01},             // OID id-ecPublicKey
		{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}, // OID rsaEncryption
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 { // check file and three keys, no temporary files left
		t.Errorf("key directory holds %d entries, want 4", len(entries))
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for i, secret := range append(secrets, markers...) {
			if bytes.Contains(data, secret) {
				t.Errorf("%s contains plaintext item %d", e.Name(), i)
			}
		}
	}
}

func TestPermissions(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	s := openStore(t, dir, newMasterKey(t))
	if _, err := s.GenerateKey(ctx, "ca/root", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("key directory mode %04o, want 0700", perm)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %04o, want 0600", e.Name(), perm)
		}
	}

	loose := filepath.Join(t.TempDir(), "loose")
	if err := os.Mkdir(loose, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(loose, newMasterKey(t)); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("Open of a 0755 directory: got %v, want a refusal that says chmod 700", err)
	}
}

func TestFileNames(t *testing.T) {
	for _, id := range []string{"ca/root-ecc-v1", "cert/0a1b2c", "A.b_c-D"} {
		name := fileName(id)
		if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
			t.Errorf("fileName(%q) = %q is not a plain name", id, name)
		}
		if back, ok := idFromFileName(name); !ok || back != id {
			t.Errorf("idFromFileName(%q) = %q, %v; want %q", name, back, ok, id)
		}
	}
	for _, name := range []string{CheckFile, SaltFile, ".tmp-123", "zz.key", hex.EncodeToString([]byte("../x")) + ".key", "6162.KEY"} {
		if _, ok := idFromFileName(name); ok {
			t.Errorf("idFromFileName(%q) accepted a name the store never writes", name)
		}
	}
}

func TestImportKey(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "keys"), newMasterKey(t))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := s.ImportKey(ctx, "ceremony/root", ec, selo.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ec.PublicKey.Equal(signer.Public()) {
		t.Fatal("imported signer has another public key")
	}
	if _, ok := signer.(*ecdsa.PrivateKey); ok {
		t.Fatal("the signer of a non-exportable key is the private key itself")
	}
	keystoretest.CheckSigns(t, signer)
	if _, err := s.ImportKey(ctx, "ceremony/root", ec, selo.KeyOptions{}); selo.ErrorCode(err) != selo.ECONFLICT {
		t.Fatalf("second import: got %v, want ECONFLICT", err)
	}

	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, k := range map[string]crypto.PrivateKey{"p521": p521, "rsa1024": rsa1024, "ed25519": edKey, "nil": nil} {
		if _, err := s.ImportKey(ctx, "bad/"+name, k, selo.KeyOptions{}); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("import %s: got %v, want EINVALID", name, err)
		}
	}
}

func TestExportReturnsACopy(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "keys"), newMasterKey(t))
	signer, err := s.GenerateKey(ctx, "holder/1", selo.KeyECDSAP256, selo.KeyOptions{Exportable: true})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.ExportKey(ctx, "holder/1")
	if err != nil {
		t.Fatal(err)
	}
	k.(*ecdsa.PrivateKey).D.SetInt64(1) // a caller wiping its copy
	keystoretest.CheckSigns(t, signer)
}

func TestMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := GenerateMasterKeyFile(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master key file mode %04o, want 0600", fi.Mode().Perm())
	}
	k1, err := MasterKeyFromFile(path)
	if err != nil || len(k1) != MasterKeySize {
		t.Fatalf("MasterKeyFromFile: %d bytes, %v", len(k1), err)
	}
	if err := GenerateMasterKeyFile(path); selo.ErrorCode(err) != selo.ECONFLICT {
		t.Fatalf("GenerateMasterKeyFile over an existing file: got %v, want ECONFLICT", err)
	}
	k2, _ := MasterKeyFromFile(path)
	if !bytes.Equal(k1, k2) {
		t.Fatal("the master key changed")
	}

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = MasterKeyFromFile(path)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable master key file: got %v, want a refusal that says chmod 600", err)
	}

	key := newMasterKey(t)
	for name, content := range map[string][]byte{
		"raw":       key,
		"hex":       []byte(hex.EncodeToString(key) + "\n"),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString(key))),
		"base64":    []byte(base64.StdEncoding.EncodeToString(key) + "\r\n"),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(key)),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := MasterKeyFromFile(p)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: got %x, %v", name, got, err)
		}
	}
	for name, content := range map[string][]byte{
		"short":  key[:31],
		"hex31":  []byte(hex.EncodeToString(key[:31])),
		"nothex": []byte(strings.Repeat("zz", 32)),
		"empty":  nil,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := MasterKeyFromFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "zzzz") {
			t.Errorf("%s: the error repeats the file contents: %v", name, err)
		}
	}
}

func TestPassphrase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	mk, err := MasterKeyFromPassphraseDir(dir, []byte("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir, mk)
	if _, err := s.GenerateKey(ctx, "ca/root", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	salt, err := os.ReadFile(filepath.Join(dir, SaltFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(salt), "argon2id v=19 t=3 m=65536 p=4 salt=") {
		t.Errorf("salt file %q does not record the parameters", salt)
	}
	p, rawSalt, err := parseSaltFile(salt)
	if err != nil || p != DefaultArgon2Params {
		t.Fatalf("parseSaltFile: %+v, %v", p, err)
	}
	if !bytes.Equal(MasterKeyFromPassphrase([]byte("correct horse battery staple"), rawSalt), mk) {
		t.Error("MasterKeyFromPassphrase disagrees with MasterKeyFromPassphraseDir")
	}

	again, err := MasterKeyFromPassphraseDir(dir, []byte("correct horse battery staple"))
	if err != nil || !bytes.Equal(again, mk) {
		t.Fatalf("second derivation differs (%v)", err)
	}
	wrong, err := MasterKeyFromPassphraseDir(dir, []byte("correct horse battery stapler"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, wrong); selo.ErrorCode(err) != selo.EUNAUTHORIZED {
		t.Fatalf("Open with a wrong passphrase: got %v, want EUNAUTHORIZED", err)
	}
	if _, err := MasterKeyFromPassphraseDir(dir, nil); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("empty passphrase: got %v, want EINVALID", err)
	}

	if err := os.Remove(filepath.Join(dir, SaltFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := MasterKeyFromPassphraseDir(dir, []byte("correct horse battery staple")); selo.ErrorCode(err) != selo.ENOTFOUND {
		t.Fatalf("lost salt file: got %v, want ENOTFOUND", err)
	}
}

func TestParseSaltFileLimits(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	for _, bad := range []string{
		"",
		"scrypt v=19 t=3 m=65536 p=4 salt=" + salt,
		"argon2id v=16 t=3 m=65536 p=4 salt=" + salt,
		"argon2id v=19 t=0 m=65536 p=4 salt=" + salt,
		"argon2id v=19 t=3 m=99999999999 p=4 salt=" + salt,
		"argon2id v=19 t=3 m=65536 p=256 salt=" + salt,
		"argon2id v=19 t=3 m=65536 p=4 salt=c2hvcnQ",
		"argon2id v=19 t=3 m=65536 p=4 salt=" + salt + " extra=1",
	} {
		if _, _, err := parseSaltFile([]byte(bad)); err == nil {
			t.Errorf("parseSaltFile(%q) accepted", bad)
		}
	}
}

// FuzzOpenKey feeds arbitrary file contents to the unsealer: it must never
// panic, and must accept only what it sealed itself.
func FuzzOpenKey(f *testing.F) {
	aead, err := newAEAD(make([]byte, MasterKeySize))
	if err != nil {
		f.Fatal(err)
	}
	// A fixed key: fuzz workers rerun this setup and must agree on der.
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	good, err := sealKey(aead, "seed", false, der)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("seed", good)
	f.Add("seed", []byte(keyMagic))
	f.Add("other", good)
	f.Add("x", []byte{})
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		out, _, err := openKey(aead, id, data)
		if err == nil && (id != "seed" || !bytes.Equal(out, der)) {
			t.Fatalf("openKey accepted forged data for %q", id)
		}
	})
}

func BenchmarkSoftSignP256(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, filepath.Join(b.TempDir(), "keys"), newMasterKey(b))
	if _, err := s.GenerateKey(ctx, "ca/bench", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("benchmark"))
	b.ReportAllocs()
	for b.Loop() {
		signer, err := s.Signer(ctx, "ca/bench") // as the issuing path does, every time
		if err != nil {
			b.Fatal(err)
		}
		if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawECDSASignP256 is the ceiling BenchmarkSoftSignP256 is measured
// against: the standard library with the key in hand.
func BenchmarkRawECDSASignP256(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("benchmark"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSoftUnsealP256 is what a cold Signer costs (file read, GCM open,
// PKCS#8 parse), the price the cache keeps off the hot path.
func BenchmarkSoftUnsealP256(b *testing.B) {
	ctx := context.Background()
	dir, mk := filepath.Join(b.TempDir(), "keys"), newMasterKey(b)
	s := openStore(b, dir, mk)
	if _, err := s.GenerateKey(ctx, "ca/bench", selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.mu.Lock()
		delete(s.keys, "ca/bench")
		s.mu.Unlock()
		if _, err := s.Signer(ctx, "ca/bench"); err != nil {
			b.Fatal(err)
		}
	}
}
