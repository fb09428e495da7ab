package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/store/storetest"
)

// TestReady: /readyz is 200 while the store, the key store and (on an ocsp
// replica) the CRLs are current; once a CRL passes its nextUpdate with no
// worker to refresh it, the ocsp replica says which CA (503) while an api
// replica stays ready; with the store gone it names the store alone, not
// the error's details.
func TestReady(t *testing.T) {
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	env := testenv.NewWithOptions(t, testenv.Options{Clock: clock})
	ctx := context.Background()
	cas, err := env.Authority.ListCAs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ca := range cas {
		if _, err := env.Authority.PublishCRL(ctx, "test", ca.ID); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	serve := func(roles ...string) http.Handler {
		return server.New(server.Config{Authority: env.Authority, Roles: roles, Logger: logger}).Handler()
	}
	ocspReplica, apiReplica := serve(server.RoleOCSP), serve(server.RoleAPI)
	get := func(h http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	for _, h := range []http.Handler{ocspReplica, apiReplica} {
		if code, body := get(h); code != http.StatusOK || body != "ready" {
			t.Fatalf("readyz: %d %s", code, body)
		}
	}
	clock.Add(authority.DefaultCRLValidity + time.Hour)
	code, body := get(ocspReplica)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the CRL of CA") || !strings.Contains(body, "is a worker running") {
		t.Fatalf("readyz with expired CRLs on an ocsp replica: %d %s", code, body)
	}
	if code, body := get(apiReplica); code != http.StatusOK {
		t.Fatalf("readyz on an api replica (no status check): %d %s", code, body)
	}
	if err := env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	code, body = get(apiReplica)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: store unreachable") || strings.Contains(body, "sql") {
		t.Fatalf("readyz with the store closed: %d %s", code, body)
	}
}
