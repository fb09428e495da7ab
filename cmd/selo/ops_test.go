package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/ocsp"
)

// testTLSCA is a CA of the test's own that signs the server certificates
// given to --tls-cert.
type testTLSCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newTestTLSCA(t *testing.T) *testTLSCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ops test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testTLSCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// writePair writes a server certificate for localhost with serial into
// certFile and keyFile, each replaced in one rename.
func (ca *testTLSCA) writePair(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	replace := func(path string, b []byte) {
		tmp := path + ".new"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	// The key first: until the certificate follows, the pair does not
	// match and the server keeps the old one.
	replace(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	replace(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// startTLSServer runs selo serve with args and waits for the plain-HTTP
// listener's /healthz.
func startTLSServer(t *testing.T, bin string, env []string, plainAddr string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--no-init", "--log-level", "info"}, args...)...)
	cmd.Env = env
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	if !pollUntil(time.Minute, func() bool {
		resp, err := http.Get("http://" + plainAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("server did not start: %s", log.String())
	}
	return cmd, log
}

// peerSerial makes a TLS handshake as Go's client and returns the serial of
// the server's certificate.
func peerSerial(addr string, pool *x509.CertPool) (int64, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
}

// scrape reads the metrics endpoint with the Prometheus text parser.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the exposition: %v", err)
	}
	return families
}

// metricValue sums the counter or gauge values of family whose labels
// include labels.
func metricValue(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	f := families[family]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.GetMetric() {
		for k, v := range labels {
			ok := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					ok = true
				}
			}
			if !ok {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

// TestServeTLSAndMetrics runs selo serve with --tls-cert/--tls-key, a
// plain-HTTP listener and metrics, and checks with Go's client and openssl
// s_client: TLS 1.1 refused, 1.2 and 1.3 accepted; HSTS on TLS answers and
// not on the plain OCSP ones; OCSP and CRLs over plain HTTP, nothing else;
// the certificate reloaded when the files change and on SIGHUP; the metrics
// counting issuance and OCSP answers, and the worker leading.
func TestServeTLSAndMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := seloBinary(t)
	env, apiKey := initCrashData(t, bin, "")
	ca := newTestTLSCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.writePair(t, certFile, keyFile, 100)
	tlsAddr, plainAddr, metricsAddr := freePort(t), freePort(t), freePort(t)
	cmd, log := startTLSServer(t, bin, env, plainAddr, "--listen", tlsAddr, "--tls-cert", certFile, "--tls-key", keyFile,
		"--listen-http", plainAddr, "--metrics-listen", metricsAddr)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "localhost"}}}
	call := func(method, path string, body any) (*http.Response, []byte) {
		t.Helper()
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "https://"+tlsAddr+path, r)
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s over TLS: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	// Go's client: TLS 1.2 and 1.3 in, 1.1 out.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.pool, ServerName: "localhost", MinVersion: v, MaxVersion: v})
		if err != nil {
			t.Fatalf("TLS version %x refused: %v", v, err)
		}
		conn.Close()
	}
	if conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.pool, ServerName: "localhost", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	// openssl s_client, a peer nobody here wrote.
	if _, err := exec.LookPath("openssl"); err == nil {
		caFile := filepath.Join(dir, "ca.pem")
		os.WriteFile(caFile, ca.pem, 0o600)
		sclient := func(version string) (string, error) {
			c := exec.Command("openssl", "s_client", "-connect", tlsAddr, "-servername", "localhost", "-CAfile", caFile,
				"-verify_return_error", version, "-cipher", "DEFAULT@SECLEVEL=0")
			c.Stdin = strings.NewReader("")
			out, err := c.CombinedOutput()
			return string(out), err
		}
		for _, v := range []string{"-tls1_2", "-tls1_3"} {
			out, err := sclient(v)
			want := "Protocol  : TLSv1." + v[len(v)-1:]
			if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "Verify return code: 0 (ok)") {
				t.Fatalf("openssl s_client %s: %v\n%s", v, err, out)
			}
		}
		// openssl names the protocol it tried even when the handshake
		// fails: the server's protocol_version alert and no cipher say it
		// did.
		if out, err := sclient("-tls1_1"); err == nil || !strings.Contains(out, "alert protocol version") || !strings.Contains(out, "Cipher is (NONE)") {
			t.Fatalf("openssl s_client -tls1_1 got through: %v\n%s", err, out)
		}
	}

	// HSTS on the API over TLS.
	resp, body := call(http.MethodPost, "/api/v1/certificates", map[string]string{"profile": "tls-server", "csr": newCSRPEM(t, "www.example.pt")})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("issue over TLS: %d %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Fatalf("no HSTS on a TLS API answer: %q", got)
	}
	var issued struct{ Serial, CA, Certificate, Chain string }
	json.Unmarshal(body, &issued)
	chain := parsePEMCertificates(t, []byte(issued.Certificate+issued.Chain))
	if resp, body := call(http.MethodPost, "/api/v1/certificates/"+issued.Serial+"/revoke", map[string]string{"reason": "superseded"}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke over TLS: %d %s", resp.StatusCode, body)
	}

	// OCSP (GET twice: the second from memory) and the CRL over plain HTTP.
	reqDER, err := ocsp.CreateRequest(chain[0], chain[1], &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	ocspURL := "http://" + plainAddr + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(reqDER))
	for range 2 {
		resp, err := http.Get(ocspURL)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r, err := ocsp.ParseResponseForCert(der, chain[0], chain[1])
		if err != nil || r.Status != ocsp.Revoked {
			t.Fatalf("plain OCSP: %d %v status %v", resp.StatusCode, err, r)
		}
		if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
			t.Fatalf("HSTS on a plain-HTTP OCSP answer: %q", h)
		}
	}
	var crlDER []byte
	if !pollUntil(10*time.Second, func() bool { // the CRL after a revocation is published within CRLDelay
		resp, err := http.Get("http://" + plainAddr + "/crl/" + issued.CA + ".crl")
		if err != nil {
			return false
		}
		crlDER, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		crl, err := x509.ParseRevocationList(crlDER)
		if err != nil {
			return false
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(chain[0].SerialNumber) == 0 {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("the plain-HTTP CRL does not list %s", issued.Serial)
	}
	// Nothing else over plain HTTP: GETs go to https, the API is not there.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.Get("http://" + plainAddr + "/api/v1/cas"); err != nil || resp.StatusCode != http.StatusMovedPermanently ||
		!strings.HasPrefix(resp.Header.Get("Location"), "https://") {
		t.Fatalf("plain GET of the API: %v %v", err, resp)
	}
	if resp, err := http.Post("http://"+plainAddr+"/api/v1/account/login", "application/json", strings.NewReader(`{"email":"a@example.pt","password":"secret secret"}`)); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("plain POST to the API: %v %v", err, resp)
	}

	// Metrics, read with the Prometheus parser.
	families := scrape(t, metricsAddr)
	if v, _ := metricValue(families, "selo_certificates_issued_total", map[string]string{"profile": "tls-server", "outcome": "ok"}); v < 1 {
		t.Errorf("selo_certificates_issued_total{tls-server,ok} = %v", v)
	}
	if v, _ := metricValue(families, "selo_certificate_issue_duration_seconds", map[string]string{"profile": "tls-server"}); v < 1 {
		t.Errorf("no issuance latency observed: %v", v)
	}
	if v, _ := metricValue(families, "selo_ocsp_answers_total", map[string]string{"status": "successful"}); v < 2 {
		t.Errorf("selo_ocsp_answers_total{successful} = %v, want 2 or more", v)
	}
	if v, _ := metricValue(families, "selo_ocsp_answers_total", map[string]string{"status": "successful", "cache": "hit"}); v < 1 {
		t.Errorf("the repeated OCSP request was not counted as a cache hit: %v", v)
	}
	if v, ok := metricValue(families, "selo_crl_age_seconds", map[string]string{"ca": issued.CA}); !ok || v < 0 {
		t.Errorf("selo_crl_age_seconds{ca=%s}: %v %v", issued.CA, v, ok)
	}
	if v, ok := metricValue(families, "selo_crl_next_update_timestamp_seconds", map[string]string{"ca": issued.CA}); !ok || v < float64(time.Now().Unix()) {
		t.Errorf("selo_crl_next_update_timestamp_seconds{ca=%s} = %v, not in the future", issued.CA, v)
	}
	if !pollUntil(10*time.Second, func() bool {
		v, _ := metricValue(scrape(t, metricsAddr), "selo_worker_leader", nil)
		return v == 1
	}) {
		t.Error("selo_worker_leader is not 1 on the only worker")
	}
	for _, name := range []string{"selo_group_commit_queue_length", "selo_outbox_queue_length", "go_goroutines"} {
		if _, ok := metricValue(families, name, nil); !ok {
			t.Errorf("no %s", name)
		}
	}
	// /readyz over TLS.
	if resp, body := call(http.MethodGet, "/readyz", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %d %s", resp.StatusCode, body)
	}

	// Reload: replaced files are used from a later handshake on.
	if s, err := peerSerial(tlsAddr, ca.pool); err != nil || s != 100 {
		t.Fatalf("first certificate: %d %v", s, err)
	}
	ca.writePair(t, certFile, keyFile, 101)
	if !pollUntil(15*time.Second, func() bool { s, _ := peerSerial(tlsAddr, ca.pool); return s == 101 }) {
		t.Fatalf("the replaced certificate files were not loaded:\n%s", log.String())
	}
	// SIGHUP: files whose modification times look unchanged are read
	// again on the signal alone.
	ci, _ := os.Stat(certFile)
	ki, _ := os.Stat(keyFile)
	ca.writePair(t, certFile, keyFile, 102)
	os.Chtimes(certFile, ci.ModTime(), ci.ModTime())
	os.Chtimes(keyFile, ki.ModTime(), ki.ModTime())
	time.Sleep(2 * time.Second) // past a modification-time check, which sees nothing
	if s, _ := peerSerial(tlsAddr, ca.pool); s != 101 {
		t.Fatalf("serial %d before SIGHUP: the test's premise does not hold", s)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(10*time.Second, func() bool { s, _ := peerSerial(tlsAddr, ca.pool); return s == 102 }) {
		t.Fatalf("SIGHUP did not reload the certificate:\n%s", log.String())
	}
	// A broken pair keeps the one in use.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	if !pollUntil(10*time.Second, func() bool { return strings.Contains(log.String(), "keeping the certificate in use") }) {
		t.Fatalf("a broken key file was not reported:\n%s", log.String())
	}
	if s, err := peerSerial(tlsAddr, ca.pool); err != nil || s != 102 {
		t.Fatalf("after a broken key file: serial %d, %v", s, err)
	}
}

// TestServeTLSSelf checks --tls-self: the server's certificate comes from
// Selo's own CA (tls-server profile, chain verified by Go's client against
// Selo's root), its key stays in the key store, and a restart serves the
// same certificate.
func TestServeTLSSelf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := seloBinary(t)
	data := t.TempDir()
	env := append(os.Environ(), "SELO_DATA="+data)
	initCmd := exec.Command(bin, "init", "--json", "--base-url", "http://pki.example.com")
	initCmd.Env = env
	if out, err := initCmd.CombinedOutput(); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	serial := func() string {
		tlsAddr, plainAddr := freePort(t), freePort(t)
		cmd, log := startTLSServer(t, bin, env, plainAddr, "--listen", tlsAddr, "--tls-self", "--listen-http", plainAddr)
		defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
		// Selo's root, fetched over plain HTTP, is the only trust anchor.
		resp, err := http.Get("http://" + plainAddr + "/ca/root-ecc-v1.crt")
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		root, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("root: %v", err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(root)
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "pki.example.com"})
		if err != nil {
			t.Fatalf("handshake with the --tls-self certificate: %v\n%s", err, log.String())
		}
		defer conn.Close()
		return fmt.Sprintf("%x", conn.ConnectionState().PeerCertificates[0].SerialNumber)
	}
	first := serial()
	if second := serial(); second != first {
		t.Fatalf("a restart issued a new certificate (%s, then %s) instead of re-using the valid one", first, second)
	}
	rec, err := os.ReadFile(filepath.Join(data, selfTLSFile))
	if err != nil || !strings.Contains(string(rec), first) {
		t.Fatalf("%s: %s %v", selfTLSFile, rec, err)
	}
	// The key is sealed in the key store: no PEM private key on disk.
	filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("PRIVATE KEY")) {
				t.Errorf("%s holds a PEM private key", path)
			}
		}
		return nil
	})
}
