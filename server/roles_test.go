package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/control"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/server"
	"github.com/selo-qtsp/selo/store/storetest"
)

// The role and dual-control attacks run through the real API, on SQLite
// and PostgreSQL, with a fake clock to pass a proposal's expiry.

type controlStack struct {
	env   *testenv.Env
	clock *storetest.Clock
	srv   *httptest.Server
	keys  map[string]string // by name: ana and bea (admins), olga (officer), aldo (auditor), ivo (integrator)
}

func newControlStack(t *testing.T, open openStore) *controlStack {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	opts := testenv.Options{Clock: clock}
	if open != nil {
		opts.Store = open(t, clock)
	}
	env := testenv.NewWithOptions(t, opts)
	svc, err := control.New(control.Config{Store: env.Store, Authority: env.Authority, Clock: clock,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Authority: env.Authority, Control: svc, Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	st := &controlStack{env: env, clock: clock, srv: srv, keys: map[string]string{}}
	for name, roles := range map[string][]selo.Role{
		"ana": {selo.RoleAdmin}, "bea": {selo.RoleAdmin}, "olga": {selo.RoleOfficer},
		"aldo": {selo.RoleAuditor}, "ivo": {selo.RoleIntegrator},
	} {
		secret, _, err := env.Authority.CreateAPIKeyWithRoles(context.Background(), "test", name, roles)
		if err != nil {
			t.Fatal(err)
		}
		st.keys[name] = secret
	}
	return st
}

// call sends method path with body (JSON, or none when nil) as the key of
// who, and returns the status and the body.
func (st *controlStack) call(t *testing.T, who, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, st.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+st.keys[who])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := st.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (st *controlStack) want(t *testing.T, status int, who, method, path string, body any) []byte {
	t.Helper()
	got, b := st.call(t, who, method, path, body)
	if got != status {
		t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, who, got, status, b)
	}
	return b
}

// propose has admin ana propose kind with params and returns the proposal.
func (st *controlStack) propose(t *testing.T, who, kind string, params any) server.ProposalResponse {
	t.Helper()
	raw, _ := json.Marshal(params)
	b := st.want(t, http.StatusCreated, who, http.MethodPost, "/api/v1/proposals",
		server.ProposalRequest{Kind: kind, Params: raw, Reason: "test"})
	var p server.ProposalResponse
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != "pending" || p.ProposedBy != "api:"+who {
		t.Fatalf("new proposal %+v", p)
	}
	return p
}

// auditActions returns the actions of the audit log with outcome outcome.
func (st *controlStack) auditActions(t *testing.T, outcome string) map[string]int {
	t.Helper()
	entries, err := st.env.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		if e.Outcome == outcome {
			out[e.Action]++
		}
	}
	n, problem, err := st.env.Authority.VerifyAudit(context.Background())
	if err != nil || problem != nil {
		t.Fatalf("audit log of %d entries does not verify: %v %+v", n, err, problem)
	}
	return out
}

// TestOfficerCannotCallAdminRoutes: an officer's key revoking a CA or
// proposing a CA operation gets 403, audited; before roles every key could.
func TestOfficerCannotCallAdminRoutes(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newControlStack(t, open)
		tls := st.env.TLS.ID
		st.want(t, http.StatusForbidden, "olga", http.MethodPost, "/api/v1/cas/"+tls+"/revoke", map[string]string{"reason": "cACompromise"})
		st.want(t, http.StatusForbidden, "olga", http.MethodPost, "/api/v1/proposals",
			server.ProposalRequest{Kind: "ca.retire", Params: json.RawMessage(`{"ca":"` + tls + `"}`)})
		st.want(t, http.StatusForbidden, "ivo", http.MethodPost, "/api/v1/cas/"+tls+"/revoke", map[string]string{"reason": "cACompromise"})
		st.want(t, http.StatusForbidden, "ana", http.MethodPost, "/api/v1/certificates/0a/revoke", map[string]string{"reason": "keyCompromise"})
		ca, err := st.env.Store.FindCA(context.Background(), tls)
		if err != nil || ca.Status != selo.CAActive {
			t.Fatalf("CA after refused revocation: %+v, %v", ca, err)
		}
		if n := st.auditActions(t, selo.OutcomeFailure)["api.forbidden"]; n != 4 {
			t.Fatalf("%d api.forbidden audit entries, want 4", n)
		}
		// The officer's own routes still answer.
		st.want(t, http.StatusOK, "olga", http.MethodGet, "/api/v1/certificates", nil)
	})
}

// TestAuditorWritesNothing: an auditor reads and writes nothing.
func TestAuditorWritesNothing(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newControlStack(t, open)
		cert := st.env.Issue(t, "tls-server", "ecdsa-p256")
		tls := st.env.TLS.ID
		for _, path := range []string{"/api/v1/certificates", "/api/v1/certificates/" + cert.Serial, "/api/v1/cas", "/api/v1/proposals", "/api/v1/profiles"} {
			st.want(t, http.StatusOK, "aldo", http.MethodGet, path, nil)
		}
		writes := []struct {
			method, path string
			body         any
		}{
			{http.MethodPost, "/api/v1/certificates", map[string]string{"profile": "tls-server"}},
			{http.MethodPost, "/api/v1/certificates/" + cert.Serial + "/revoke", map[string]string{"reason": "keyCompromise"}},
			{http.MethodPost, "/api/v1/certificates/" + cert.Serial + "/release-hold", nil},
			{http.MethodPost, "/api/v1/cas/" + tls + "/revoke", map[string]string{"reason": "cACompromise"}},
			{http.MethodPost, "/api/v1/proposals", server.ProposalRequest{Kind: "ca.retire", Params: json.RawMessage(`{"ca":"` + tls + `"}`)}},
		}
		for _, w := range writes {
			st.want(t, http.StatusForbidden, "aldo", w.method, w.path, w.body)
		}
		// Nor does an auditor decide a proposal an admin made.
		p := st.propose(t, "ana", "ca.retire", map[string]string{"ca": tls})
		for _, verb := range []string{"approve", "reject", "execute"} {
			st.want(t, http.StatusForbidden, "aldo", http.MethodPost, "/api/v1/proposals/"+p.ID+"/"+verb, nil)
		}
		if got, err := st.env.Authority.FindRevocation(context.Background(), cert.Serial); err == nil {
			t.Fatalf("the auditor revoked %s: %+v", cert.Serial, got)
		}
		b := st.want(t, http.StatusOK, "aldo", http.MethodGet, "/api/v1/proposals/"+p.ID, nil)
		var still server.ProposalResponse
		if err := json.Unmarshal(b, &still); err != nil || still.Status != "pending" {
			t.Fatalf("proposal after the auditor's tries: %s", b)
		}
		if n := st.auditActions(t, selo.OutcomeFailure)["api.forbidden"]; n != len(writes)+3 {
			t.Fatalf("%d api.forbidden audit entries, want %d", n, len(writes)+3)
		}
	})
}

// TestDualControlCACreate runs the whole path — ana proposes a CA, ana
// cannot approve her own proposal, bea approves, ana executes — and then
// replays the execution, which must not make anything twice.
func TestDualControlCACreate(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newControlStack(t, open)
		p := st.propose(t, "ana", "ca.create", control.CACreateParams{ID: "tls-ecc-v2", Name: "Selo Test TLS CA V2",
			Parent: st.env.Root.ID, KeyType: "ecdsa-p256", ValidityDays: 365})
		base := "/api/v1/proposals/" + p.ID

		// Not yet approved: nothing runs.
		st.want(t, http.StatusConflict, "ana", http.MethodPost, base+"/execute", nil)
		// Self-approval.
		b := st.want(t, http.StatusForbidden, "ana", http.MethodPost, base+"/approve", nil)
		if !strings.Contains(string(b), "different admin") {
			t.Fatalf("self-approval answer: %s", b)
		}
		b = st.want(t, http.StatusOK, "bea", http.MethodPost, base+"/approve", map[string]string{"comment": "ceremony minutes 12"})
		var approved server.ProposalResponse
		_ = json.Unmarshal(b, &approved)
		if approved.Status != "approved" || approved.DecidedBy != "api:bea" {
			t.Fatalf("approved proposal %+v", approved)
		}
		b = st.want(t, http.StatusOK, "ana", http.MethodPost, base+"/execute", nil)
		var done server.ProposalResponse
		_ = json.Unmarshal(b, &done)
		if done.Status != "executed" {
			t.Fatalf("executed proposal %+v", done)
		}
		ca, err := st.env.Store.FindCA(context.Background(), "tls-ecc-v2")
		if err != nil || ca.Status != selo.CAActive {
			t.Fatalf("CA made by the proposal: %+v, %v", ca, err)
		}
		// Replay: by the executor, by the approver, and approving it again.
		st.want(t, http.StatusConflict, "ana", http.MethodPost, base+"/execute", nil)
		st.want(t, http.StatusConflict, "bea", http.MethodPost, base+"/execute", nil)
		st.want(t, http.StatusConflict, "bea", http.MethodPost, base+"/approve", nil)

		ok := st.auditActions(t, selo.OutcomeSuccess)
		for _, action := range []string{"proposal.create", "proposal.approve", "proposal.execute", "proposal.executed"} {
			if ok[action] != 1 {
				t.Errorf("%d successful %s audit entries, want 1", ok[action], action)
			}
		}
		failed := st.auditActions(t, selo.OutcomeFailure)
		if failed["proposal.approve"] != 2 || failed["proposal.execute"] != 3 {
			t.Errorf("refusals audited: %v, want 2 proposal.approve and 3 proposal.execute", failed)
		}
		// The CA's own audit entry, once, names both admins.
		entries, _ := st.env.Store.ListAudit(context.Background(), 0, 10000)
		made := 0
		for _, e := range entries {
			if e.Action == "ca.create" && e.Object == "ca/tls-ecc-v2" {
				made++
				if !strings.Contains(e.Actor, "api:ana") || !strings.Contains(e.Actor, "api:bea") {
					t.Errorf("ca.create actor %q does not name both admins", e.Actor)
				}
			}
		}
		if made != 1 {
			t.Errorf("%d ca.create entries for the new CA, want 1", made)
		}
	})
}

// TestProposalExpiry: approving or executing after the window fails.
func TestProposalExpiry(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newControlStack(t, open)
		tls := st.env.TLS.ID
		late := st.propose(t, "ana", "ca.retire", map[string]string{"ca": tls})
		unused := st.propose(t, "ana", "ca.retire", map[string]string{"ca": tls})
		st.want(t, http.StatusOK, "bea", http.MethodPost, "/api/v1/proposals/"+unused.ID+"/approve", nil)

		st.clock.Add(control.DefaultProposalTTL)
		st.want(t, http.StatusConflict, "bea", http.MethodPost, "/api/v1/proposals/"+late.ID+"/approve", nil)
		st.want(t, http.StatusConflict, "ana", http.MethodPost, "/api/v1/proposals/"+unused.ID+"/execute", nil)
		b := st.want(t, http.StatusOK, "ana", http.MethodGet, "/api/v1/proposals?status=expired", nil)
		var list []server.ProposalResponse
		if err := json.Unmarshal(b, &list); err != nil || len(list) != 2 {
			t.Fatalf("expired proposals: %s", b)
		}
		ca, err := st.env.Store.FindCA(context.Background(), tls)
		if err != nil || ca.Status != selo.CAActive {
			t.Fatalf("CA after expired proposals: %+v, %v", ca, err)
		}
	})
}

// TestProposalRefusesBadParams: a proposal that cannot run is refused when
// proposed, so nobody approves it.
func TestProposalRefusesBadParams(t *testing.T) {
	st := newControlStack(t, nil)
	for _, tc := range []struct{ kind, params string }{
		{"ca.retire", `{"ca":"no-such-ca"}`},
		{"ca.retire", `{"ca":"x","extra":1}`},
		{"ca.create", `{"id":"x","name":"X","key_type":"dsa","validity_days":1}`},
		{"ca.create", `[1,2]`},
		{"keystore.destroy-ca-key", `{"ca":"` + st.env.TLS.ID + `"}`}, // active
		{"admin.grant", `{"apikey":"olga"}`},                          // no admin role
		{"root.shell", `{}`},
	} {
		code, b := st.call(t, "ana", http.MethodPost, "/api/v1/proposals",
			server.ProposalRequest{Kind: tc.kind, Params: json.RawMessage(tc.params)})
		if code != http.StatusBadRequest && code != http.StatusNotFound && code != http.StatusConflict {
			t.Errorf("%s %s: status %d: %s", tc.kind, tc.params, code, b)
		}
	}
	code, b := st.call(t, "ana", http.MethodGet, "/api/v1/proposals", nil)
	if code != http.StatusOK || string(bytes.TrimSpace(b)) != "[]" {
		t.Fatalf("proposals after refusals: %d %s", code, b)
	}
}
