package authority_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/store/storetest"
)

// TestAPIKey creates keys, authenticates with them, and checks that only
// the hash is kept and that a disabled key no longer works.
func TestAPIKey(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, s *stack) {
		ctx := context.Background()
		secret, key, err := s.A.CreateAPIKey(ctx, "operator", "erp-integration")
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := strings.CutPrefix(secret, "selo_")
		if !ok {
			t.Fatalf("secret %q lacks the selo_ prefix", secret)
		}
		if b, err := base64.RawURLEncoding.DecodeString(raw); err != nil || len(b) != 32 {
			t.Fatalf("secret does not carry 256 random bits: %d bytes, %v", len(b), err)
		}
		sum := sha256.Sum256([]byte(secret))
		if key.Hash != hex.EncodeToString(sum[:]) || key.Name != "erp-integration" || key.ID == "" || key.Disabled || key.CreatedAt.IsZero() {
			t.Fatalf("key record %+v", key)
		}
		if strings.Contains(key.ID, raw) || strings.Contains(key.Hash, raw) {
			t.Fatal("the key record holds the secret")
		}
		created := s.findAudit(t, "apikey.create", "apikey/"+key.ID)
		if len(created) != 1 || created[0].Outcome != selo.OutcomeSuccess || details(t, created[0])["name"] != "erp-integration" {
			t.Fatalf("%d apikey.create audit entries", len(created))
		}
		for _, e := range s.audit(t) {
			if strings.Contains(e.Details, raw) {
				t.Fatalf("audit entry %d holds the secret", e.Seq)
			}
		}
		if s.DBFile != "" {
			// Nothing in the database files, WAL included, holds the secret.
			files, _ := filepath.Glob(s.DBFile + "*")
			if len(files) == 0 {
				t.Fatalf("no database files at %s", s.DBFile)
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte(raw)) {
					t.Fatalf("%s holds the secret", f)
				}
			}
		}

		got, err := s.A.AuthenticateAPIKey(ctx, secret)
		if err != nil || got.ID != key.ID || got.Name != key.Name {
			t.Fatalf("AuthenticateAPIKey = %+v, %v", got, err)
		}
		secret2, key2, err := s.A.CreateAPIKey(ctx, "operator", "portal")
		if err != nil {
			t.Fatal(err)
		}
		if secret2 == secret || key2.ID == key.ID {
			t.Fatal("two keys share a secret or an ID")
		}
		if got, err := s.A.AuthenticateAPIKey(ctx, secret2); err != nil || got.ID != key2.ID {
			t.Fatalf("the second key authenticates as %+v, %v", got, err)
		}

		flipped := []byte(secret)
		flipped[len(flipped)-1] ^= 0x01
		for _, wrong := range []string{
			"", "selo_", string(flipped), raw, "SELO_" + raw, secret + "x", " " + secret,
			"selo_" + strings.Repeat("a", 200), key.Hash,
		} {
			got, err := s.A.AuthenticateAPIKey(ctx, wrong)
			if got != nil {
				t.Fatalf("AuthenticateAPIKey(%q) returned a key", wrong)
			}
			wantCode(t, err, selo.EUNAUTHORIZED)
		}

		// A key disabled in the store stops working within APIKeyCacheTTL,
		// and a refusal is not remembered.
		clock := storetest.NewClock(time.Now())
		a := s.with(t, s.Store, func(c *authority.Config) { c.Clock = clock })
		if _, err := a.AuthenticateAPIKey(ctx, secret); err != nil {
			t.Fatal(err)
		}
		s.exec(t, `UPDATE api_keys SET disabled = TRUE WHERE id = $1`, key.ID)
		if _, err := a.AuthenticateAPIKey(ctx, secret); err != nil {
			t.Fatalf("a cached key refused right after it was disabled: %v", err)
		}
		clock.Add(authority.APIKeyCacheTTL - time.Millisecond)
		if _, err := a.AuthenticateAPIKey(ctx, secret); err != nil {
			t.Fatalf("a cached key refused before APIKeyCacheTTL: %v", err)
		}
		clock.Add(time.Millisecond)
		_, err = a.AuthenticateAPIKey(ctx, secret)
		wantCode(t, err, selo.EUNAUTHORIZED)
		if _, err := a.AuthenticateAPIKey(ctx, secret2); err != nil {
			t.Fatalf("disabling one key disabled another: %v", err)
		}
		s.exec(t, `UPDATE api_keys SET disabled = FALSE WHERE id = $1`, key.ID)
		if _, err := a.AuthenticateAPIKey(ctx, secret); err != nil {
			t.Fatalf("a key enabled again is still refused: %v", err)
		}
		s.exec(t, `UPDATE api_keys SET disabled = TRUE WHERE id = $1`, key.ID)

		_, _, err = s.A.CreateAPIKey(ctx, "operator", "")
		wantCode(t, err, selo.EINVALID)
		_, _, err = s.A.CreateAPIKey(ctx, "operator", "portal")
		wantCode(t, err, selo.ECONFLICT)
		s.verifyAudit(t)
	})
}
