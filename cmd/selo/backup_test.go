package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestBackupRestore backs up a data directory while selo serve issues
// certificates, restores it into a new directory, and runs a server on the
// copy: every certificate acknowledged before the backup began is there
// with its status, issuance and revocation go on, OCSP and the CRL say what
// was revoked before and after, and 'selo audit verify' passes. A changed
// or added backup file and a non-empty target are refused.
func TestBackupRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := seloBinary(t)
	env, apiKey := initCrashData(t, bin, "")
	run := func(env []string, args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	type cert struct{ serial, ca, pem, chain string }
	call := func(addr, method, path string, body any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0, nil
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	issue := func(addr, cn string) cert {
		t.Helper()
		code, body := call(addr, http.MethodPost, "/api/v1/certificates", map[string]string{"profile": "tls-server", "csr": newCSRPEM(t, cn)})
		if code != http.StatusCreated {
			t.Fatalf("issue: %d %s", code, body)
		}
		var c struct{ Serial, CA, Certificate, Chain string }
		json.Unmarshal(body, &c)
		return cert{c.Serial, c.CA, c.Certificate, c.Chain}
	}
	revoke := func(addr string, c cert) {
		t.Helper()
		if code, body := call(addr, http.MethodPost, "/api/v1/certificates/"+c.serial+"/revoke", map[string]string{"reason": "keyCompromise"}); code != http.StatusCreated {
			t.Fatalf("revoke %s: %d %s", c.serial, code, body)
		}
	}
	ocspStatus := func(addr string, c cert) int {
		t.Helper()
		chain := parsePEMCertificates(t, []byte(c.pem+c.chain))
		req, err := ocsp.CreateRequest(chain[0], chain[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post("http://"+addr+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r, err := ocsp.ParseResponseForCert(der, chain[0], chain[1])
		if err != nil {
			t.Fatalf("ocsp for %s: %v", c.serial, err)
		}
		return r.Status
	}

	srv, addr := startServer(t, bin, env)
	kept, gone := issue(addr, "kept.example.pt"), issue(addr, "gone.example.pt")
	revoke(addr, gone)

	// The backup runs while clients keep issuing.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			body, _ := json.Marshal(map[string]string{"profile": "tls-server", "csr": newCSRPEM(t, "during.example.pt")})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v1/certificates", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+apiKey)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	})
	backups := t.TempDir()
	full, partial := filepath.Join(backups, "full"), filepath.Join(backups, "partial")
	out, err := run(env, "backup", "--self-contained", full)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("selo backup while serving: %v\n%s", err, out)
	}
	if out, err := run(env, "backup", partial); err != nil || !strings.Contains(out, "master key is not in it") {
		t.Fatalf("selo backup without the master key: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(partial, "master.key")); err == nil {
		t.Fatal("a backup without --self-contained holds master.key")
	}
	if _, err := os.Stat(filepath.Join(full, "master.key")); err != nil {
		t.Fatalf("--self-contained: %v", err)
	}
	if out, err := run(env, "backup", full); err == nil {
		t.Fatalf("a backup into a non-empty directory was allowed:\n%s", out)
	}
	// sha256sum, a checker nobody here wrote, agrees with the manifest.
	if _, err := exec.LookPath("sha256sum"); err == nil {
		c := exec.Command("sha256sum", "--check", "--strict", "--quiet", backupSums)
		c.Dir = full
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum --check: %v\n%s", err, out)
		}
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	// A changed or an added file is refused; so is a target that holds anything.
	noData := func(dir string) []string {
		var out []string
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "SELO_DATA=") {
				out = append(out, e)
			}
		}
		return out
	}(full)
	tampered := filepath.Join(backups, "tampered")
	os.CopyFS(tampered, os.DirFS(full))
	b, _ := os.ReadFile(filepath.Join(tampered, "selo.yaml"))
	os.WriteFile(filepath.Join(tampered, "selo.yaml"), append(b, []byte("\nbase-url: http://evil.example\n")...), 0o600)
	if out, err := run(noData, "restore", tampered, "--data", filepath.Join(backups, "r1")); err == nil || !strings.Contains(out, "does not match its SHA-256") {
		t.Fatalf("restore of a changed backup: %v\n%s", err, out)
	}
	added := filepath.Join(backups, "added")
	os.CopyFS(added, os.DirFS(full))
	os.WriteFile(filepath.Join(added, "keys", "extra.key"), []byte("x"), 0o600)
	if out, err := run(noData, "restore", added, "--data", filepath.Join(backups, "r2")); err == nil || !strings.Contains(out, "is not in") {
		t.Fatalf("restore of a backup with an added file: %v\n%s", err, out)
	}
	busy := filepath.Join(backups, "busy")
	os.MkdirAll(busy, 0o700)
	os.WriteFile(filepath.Join(busy, "something"), nil, 0o600)
	if out, err := run(noData, "restore", full, "--data", busy); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("restore over a non-empty directory: %v\n%s", err, out)
	}

	// Restore, which runs the audit verification.
	restored := filepath.Join(backups, "restored")
	out, err = run(noData, "restore", full, "--data", restored)
	if err != nil || !strings.Contains(out, "Audit log intact") {
		t.Fatalf("selo restore: %v\n%s", err, out)
	}
	renv := append(noData, "SELO_DATA="+restored)
	srv2, addr2 := startServer(t, bin, renv)
	defer func() { srv2.Process.Signal(syscall.SIGTERM); srv2.Wait() }()
	if code, body := call(addr2, http.MethodGet, "/api/v1/certificates/"+kept.serial, nil); code != http.StatusOK {
		t.Fatalf("a certificate issued before the backup is missing: %d %s", code, body)
	}
	after, afterGone := issue(addr2, "after.example.pt"), issue(addr2, "aftergone.example.pt")
	revoke(addr2, afterGone)
	for _, c := range []struct {
		cert cert
		want int
	}{{kept, ocsp.Good}, {gone, ocsp.Revoked}, {after, ocsp.Good}, {afterGone, ocsp.Revoked}} {
		if got := ocspStatus(addr2, c.cert); got != c.want {
			t.Errorf("OCSP for %s on the restored server: %d, want %d", c.cert.serial, got, c.want)
		}
	}
	if !pollUntil(10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr2 + "/crl/" + gone.ca + ".crl")
		if err != nil {
			return false
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		listed := 0
		for _, c := range []cert{gone, afterGone} {
			if crlLists(der, c.serial) {
				listed++
			}
		}
		return listed == 2
	}) {
		t.Fatal("the restored server's CRL does not list the revocations from before and after the backup")
	}
	srv2.Process.Signal(syscall.SIGTERM)
	srv2.Wait()
	if out, err := run(renv, "audit", "verify"); err != nil || !strings.Contains(out, "Audit log intact") {
		t.Fatalf("selo audit verify on the restored directory after new work: %v\n%s", err, out)
	}
}

// crlLists says whether the DER CRL lists the serial (hex).
func crlLists(der []byte, serial string) bool {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return false
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Text(16) == serial {
			return true
		}
	}
	return false
}

// FuzzParseSumLine feeds SHA256SUMS lines to the parser: an accepted name
// never leaves the backup directory.
func FuzzParseSumLine(f *testing.F) {
	const sum = "3630b49ee6ad8776aa51ed37951eb36d49d411954e2da71ca5147f5203c27c0e"
	for _, s := range []string{sum + "  selo.db", sum + "  keys/a.key", sum + "  ../etc/passwd", sum + "  /etc/passwd",
		sum + " selo.db", "zz  selo.db", sum + "  keys/../../x", sum + "  a\\b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		sum, name, err := parseSumLine(line)
		if err != nil {
			return
		}
		if len(sum) != 64 || name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
			t.Fatalf("accepted %q as %q %q", line, sum, name)
		}
		// A name such as "..x/y" is a file inside; only ".." as a whole
		// element leaves.
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			t.Fatalf("%q leaves the backup directory", name)
		}
		if rel, err := filepath.Rel("/backup", filepath.Join("/backup", filepath.FromSlash(name))); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			t.Fatalf("%q leaves the backup directory", name)
		}
	})
}

// TestBackupRestorePostgres follows docs/operators.md's PostgreSQL recipe:
// pg_dump of the schema and 'selo backup' of the rest while serving;
// pg_restore into a new database and 'selo restore' with --database; a
// server on the copy answers for the certificates from before, issues and
// revokes, and the audit log verifies.
func TestBackupRestorePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	dsn := postgresTestDSN(t)
	for _, tool := range []string{"pg_dump", "pg_restore", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	bin := seloBinary(t)
	env, apiKey := initCrashData(t, bin, dsn)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	base := u.String()
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		c := exec.Command(name, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	srv, addr := startServer(t, bin, env)
	post := func(addr, path string, body any) []byte {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
		}
		return out
	}
	var gone struct{ Serial, CA, Certificate, Chain string }
	json.Unmarshal(post(addr, "/api/v1/certificates", map[string]string{"profile": "tls-server", "csr": newCSRPEM(t, "gone.example.pt")}), &gone)
	post(addr, "/api/v1/certificates/"+gone.Serial+"/revoke", map[string]string{"reason": "superseded"})

	dir := t.TempDir()
	run(os.Environ(), "pg_dump", "--format=custom", "--schema="+schema, "--file="+filepath.Join(dir, "selo.pgdump"), base)
	out := run(env, bin, "backup", "--self-contained", filepath.Join(dir, "files"))
	if !strings.Contains(out, "pg_dump") {
		t.Fatalf("selo backup over PostgreSQL does not point to pg_dump:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "files", "selo.db")); err == nil {
		t.Fatal("a PostgreSQL backup holds a selo.db")
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()

	db := fmt.Sprintf("selo_restore_%d", time.Now().UnixNano())
	run(os.Environ(), "psql", base, "-c", "CREATE DATABASE "+db)
	t.Cleanup(func() { exec.Command("psql", base, "-c", "DROP DATABASE "+db+" WITH (FORCE)").Run() })
	nu := *u
	nu.Path = "/" + db
	run(os.Environ(), "pg_restore", "--no-owner", "--dbname="+nu.String(), filepath.Join(dir, "selo.pgdump"))
	q = nu.Query()
	q.Set("search_path", schema)
	nu.RawQuery = q.Encode()
	restoredDSN := nu.String()

	var renv []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SELO_DATA=") && !strings.HasPrefix(e, "SELO_DATABASE=") {
			renv = append(renv, e)
		}
	}
	data := filepath.Join(dir, "restored")
	out = run(renv, bin, "restore", filepath.Join(dir, "files"), "--data", data, "--database", restoredDSN)
	if !strings.Contains(out, "Audit log intact") {
		t.Fatalf("selo restore:\n%s", out)
	}
	renv = append(renv, "SELO_DATA="+data, "SELO_DATABASE="+restoredDSN)
	srv2, addr2 := startServer(t, bin, renv)
	chain := parsePEMCertificates(t, []byte(gone.Certificate+gone.Chain))
	req, _ := ocsp.CreateRequest(chain[0], chain[1], nil)
	resp, err := http.Post("http://"+addr2+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r, err := ocsp.ParseResponseForCert(der, chain[0], chain[1]); err != nil || r.Status != ocsp.Revoked {
		t.Fatalf("OCSP on the restored server for a certificate revoked before the backup: %v %v", r, err)
	}
	var after struct{ Serial string }
	json.Unmarshal(post(addr2, "/api/v1/certificates", map[string]string{"profile": "tls-server", "csr": newCSRPEM(t, "after.example.pt")}), &after)
	post(addr2, "/api/v1/certificates/"+after.Serial+"/revoke", map[string]string{"reason": "superseded"})
	srv2.Process.Signal(syscall.SIGTERM)
	srv2.Wait()
	if out := run(renv, bin, "audit", "verify"); !strings.Contains(out, "Audit log intact") {
		t.Fatalf("audit verify:\n%s", out)
	}
}
