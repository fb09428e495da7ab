package selo_test

import (
	"testing"

	"github.com/selo-qtsp/selo"
)

func TestParseRoles(t *testing.T) {
	got, err := selo.ParseRoles([]string{"officer,admin", " auditor ", "admin"})
	if err != nil || selo.JoinRoles(got) != "admin,auditor,officer" {
		t.Fatalf("ParseRoles = %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {""}, {"root"}, {"admin,root"}, {"Admin"}} {
		if _, err := selo.ParseRoles(bad); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("ParseRoles(%q): %v, want invalid", bad, err)
		}
	}
	// A row changed by hand to hold a made-up role grants nothing.
	if got := selo.SplitRoles("admin,superuser,,officer"); selo.JoinRoles(got) != "admin,officer" {
		t.Fatalf("SplitRoles = %v", got)
	}
	if selo.HasRole([]selo.Role{selo.RoleAuditor}, selo.RoleAdmin, selo.RoleOfficer) {
		t.Fatal("an auditor holds admin or officer")
	}
}

func FuzzParseRoles(f *testing.F) {
	for _, s := range []string{"admin", "officer,auditor", "", ",,", "admin,root", "integrator, admin"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		roles, err := selo.ParseRoles([]string{s})
		if err != nil {
			return
		}
		for _, r := range roles {
			if !r.Valid() {
				t.Fatalf("ParseRoles(%q) returned unknown role %q", s, r)
			}
		}
		again := selo.SplitRoles(selo.JoinRoles(roles))
		if selo.JoinRoles(again) != selo.JoinRoles(roles) {
			t.Fatalf("roles %v do not survive the store: %v", roles, again)
		}
	})
}
