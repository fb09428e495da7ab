package lift

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

func TestNewClientRefuses(t *testing.T) {
	for name, args := range map[string][3]string{
		"no scheme":        {"ra.example.eu", "SO-1", "CODE"},
		"ftp":              {"ftp://ra.example.eu", "SO-1", "CODE"},
		"query":            {"https://ra.example.eu/?x=1", "SO-1", "CODE"},
		"path in number":   {"https://ra.example.eu", "../SO-1", "CODE"},
		"slash in number":  {"https://ra.example.eu", "SO/1", "CODE"},
		"empty number":     {"https://ra.example.eu", "", "CODE"},
		"long number":      {"https://ra.example.eu", strings.Repeat("A", 65), "CODE"},
		"empty lift code":  {"https://ra.example.eu", "SO-1", " "},
		"unicode in order": {"https://ra.example.eu", "SO-1é", "CODE"},
	} {
		if _, err := NewClient(args[0], args[1], args[2]); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := NewClient("https://ra.example.eu/", strings.Repeat("A", 64), "CODE"); err != nil {
		t.Fatalf("64-character order number: %v", err)
	}
}

// TestClientTooManyRequests: a short Retry-After is waited out, a long one
// is returned as the error.
func TestClientTooManyRequests(t *testing.T) {
	var calls atomic.Int32
	retryAfter := "1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(LiftCodeHeader) != "CODE" || strings.Contains(r.URL.String(), "CODE") {
			t.Errorf("the lift code is not (only) in the header: %s", r.URL)
		}
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":{"code":"too_many_requests","message":"slow down"}}`))
			return
		}
		w.Write([]byte(`{"number":"SO-1","step":"verify_email","delivery":"software","key_types":["ecdsa-p256"]}`))
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, "SO-1", "CODE")
	if err != nil {
		t.Fatal(err)
	}
	var slept time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { slept += d; return nil }
	st, err := c.Status(context.Background())
	if err != nil || st.Step != StepVerifyEmail || slept != time.Second || calls.Load() != 2 {
		t.Fatalf("status %+v, %v after %s and %d calls", st, err, slept, calls.Load())
	}
	calls.Store(0)
	retryAfter = "3600"
	_, err = c.Status(context.Background())
	if selo.ErrorCode(err) != "too_many_requests" || selo.ErrorMessage(err) != "slow down" || calls.Load() != 1 {
		t.Fatalf("long Retry-After: %v after %d calls", err, calls.Load())
	}
}

func TestClientAnswers(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
		code   string
	}{
		"error answer": {401, `{"error":{"code":"unauthorized","message":"wrong code"}}`, selo.EUNAUTHORIZED},
		"not json":     {502, `<html>bad gateway</html>`, selo.EINTERNAL},
		"bad success":  {200, `[1,2]`, selo.EINTERNAL},
		"too large":    {200, `{"number":"` + strings.Repeat("x", maxResponseBytes) + `"}`, selo.EINTERNAL},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, _ := NewClient(srv.URL, "SO-1", "CODE")
			if _, err := c.Status(context.Background()); selo.ErrorCode(err) != tc.code {
				t.Fatalf("%v, want %s", err, tc.code)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		types []string
		want  string
	}{
		{[]string{"rsa", "ecdsa-p384", "ecdsa-p256"}, "P-256"},
		{[]string{"rsa", "ecdsa-p384"}, "P-384"},
		{[]string{"rsa"}, "RSA-3072"},
	} {
		key, err := generateKey(&Status{KeyTypes: tc.types, MinRSABits: 2048})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		switch k := key.(type) {
		case *ecdsa.PrivateKey:
			got = k.Curve.Params().Name
		case *rsa.PrivateKey:
			got = fmt.Sprintf("RSA-%d", k.N.BitLen())
		}
		if got != tc.want {
			t.Errorf("%v: %s, want %s", tc.types, got, tc.want)
		}
	}
	if _, err := generateKey(&Status{Profile: "odd", KeyTypes: []string{"ed448"}}); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("no usable key type: %v", err)
	}
}

func TestLoadState(t *testing.T) {
	dir := t.TempDir()
	st, err := loadState(dir, "SO-1")
	if err != nil || st.Number != "SO-1" || !st.EmailSentAt.IsZero() {
		t.Fatalf("fresh state %+v %v", st, err)
	}
	st.EmailSentAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := loadState(dir, "SO-1")
	if err != nil || !back.EmailSentAt.Equal(st.EmailSentAt) {
		t.Fatalf("saved state %+v %v", back, err)
	}
	if _, err := loadState(dir, "SO-2"); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("another order's state: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	for name, body := range map[string]string{
		"truncated": `{"version":1,"number":"SO-1"`,
		"unknown":   `{"version":1,"number":"SO-1","extra":true}`,
		"version":   `{"version":2,"number":"SO-1"}`,
		"too large": `{"version":1,"number":"SO-1"}` + strings.Repeat(" ", maxStateBytes),
	} {
		os.WriteFile(filepath.Join(dir, stateFile), []byte(body), 0o600)
		if _, err := loadState(dir, "SO-1"); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"version":1,"number":"SO-2026-K7Q2M9XD","email_sent_at":"2026-01-02T03:04:05Z","public_key_sha256":"ab"}`))
	f.Add([]byte(`{"version":1,"number":"../x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseState(b)
		if err == nil && CheckOrderNumber(st.Number) != nil {
			t.Fatalf("accepted a state with order number %q", st.Number)
		}
	})
}

func FuzzParseCertificate(f *testing.F) {
	f.Add("01", []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte(""))
	f.Add("", []byte("garbage"), []byte("-----BEGIN X-----\n-----END X-----\n"))
	f.Fuzz(func(t *testing.T, serial string, leaf, chain []byte) {
		c, err := ParseCertificate(serial, leaf, chain)
		if err == nil && (c.Leaf == nil || len(c.Chain) == 0) {
			t.Fatal("accepted an answer without a leaf and a chain")
		}
		if err != nil && selo.ErrorCode(err) != selo.EINVALID {
			t.Fatalf("error %v is not EINVALID", err)
		}
	})
}

func TestWriteFileExclusive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, keyFile)
	if err := writeFileExclusive(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := writeFileExclusive(path, []byte("second")); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write: %v, want os.ErrExist", err)
	}
	b, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(dir)
	if string(b) != "first" || len(entries) != 1 {
		t.Fatalf("content %q, %d files: the first key must stay alone", b, len(entries))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
