package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
)

// TestDeskMountedUnderThePortalRole: with the portal role, /desk/ and the
// identity pages under /account/orders/{id}/identity go to the desk, the
// rest of /account/ to the portal; without the role neither is served.
func TestDeskMountedUnderThePortalRole(t *testing.T) {
	env := testenv.New(t)
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) })
	}
	for _, roles := range [][]string{{server.RolePortal}, {server.RoleAPI, server.RoleOCSP}} {
		srv := httptest.NewServer(server.New(server.Config{Authority: env.Authority, Roles: roles, Portal: named("portal"), Desk: named("desk"),
			Logger: slog.New(slog.DiscardHandler)}).Handler())
		portal := roles[0] == server.RolePortal
		for path, want := range map[string]string{
			"/desk/": "desk", "/desk/identity/x": "desk", "/account/orders/o1/identity": "desk",
			"/account/orders/o1/identity/c1/selfie": "desk", "/account/orders": "portal", "/account/": "portal",
		} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if portal && string(b) != want || !portal && resp.StatusCode != http.StatusNotFound {
				t.Errorf("roles %v, GET %s: %d %q", roles, path, resp.StatusCode, b)
			}
		}
		srv.Close()
	}
}
