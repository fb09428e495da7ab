package storetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/selo-qtsp/selo"
)

func testAPIKey(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store

	key := &selo.APIKey{ID: "k1", Name: "admin", Hash: "aa11", Roles: []selo.Role{selo.RoleAdmin, selo.RoleOfficer}}
	must(t, st.CreateAPIKey(ctx, key, entry("apikey.create", "apikey/k1")))
	if !key.CreatedAt.Equal(micro(start)) {
		t.Fatalf("CreateAPIKey filled in CreatedAt %v, want %v", key.CreatedAt, micro(start))
	}
	got, err := st.FindAPIKeyByHash(ctx, "aa11")
	must(t, err)
	if got.ID != key.ID || got.Name != key.Name || got.Hash != key.Hash || got.Disabled || !got.CreatedAt.Equal(key.CreatedAt) ||
		!reflect.DeepEqual(got.Roles, key.Roles) {
		t.Fatalf("FindAPIKeyByHash returned %+v, want %+v", got, key)
	}

	disabled := &selo.APIKey{ID: "k2", Name: "old", Hash: "bb22", Disabled: true, Roles: []selo.Role{selo.RoleAuditor}}
	must(t, st.CreateAPIKey(ctx, disabled, entry("apikey.create", "apikey/k2")))
	_, err = st.FindAPIKeyByHash(ctx, "bb22")
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.FindAPIKeyByHash(ctx, "cc33")
	wantCode(t, err, selo.ENOTFOUND)

	for name, k := range map[string]*selo.APIKey{
		"same ID":   {ID: "k1", Name: "other", Hash: "dd44", Roles: []selo.Role{selo.RoleOfficer}},
		"same name": {ID: "k3", Name: "admin", Hash: "dd44", Roles: []selo.Role{selo.RoleOfficer}},
		"same hash": {ID: "k3", Name: "other", Hash: "aa11", Roles: []selo.Role{selo.RoleOfficer}},
	} {
		if err := st.CreateAPIKey(ctx, k, entry("apikey.create", "apikey/"+k.ID)); selo.ErrorCode(err) != selo.ECONFLICT {
			t.Fatalf("%s: error %v, want conflict", name, err)
		}
	}
	wantCode(t, st.CreateAPIKey(ctx, &selo.APIKey{ID: "k4", Name: "n4", Hash: "ee55", Roles: []selo.Role{selo.RoleOfficer}}, nil), selo.EINVALID)
	wantCode(t, st.CreateAPIKey(ctx, &selo.APIKey{ID: "k5", Name: "n5", Hash: "ff66"}, entry("apikey.create", "apikey/k5")), selo.EINVALID)
	wantCode(t, st.CreateAPIKey(ctx, &selo.APIKey{ID: "k6", Name: "n6", Hash: "ff77", Roles: []selo.Role{"root"}}, entry("apikey.create", "apikey/k6")), selo.EINVALID)
	_, err = st.FindAPIKeyByHash(ctx, "ee55")
	wantCode(t, err, selo.ENOTFOUND)
	wantIntactAudit(t, st, 2)
}
