package approval

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestAuthorizerSetup(t *testing.T) {
	s, err := NewAuthorizerSetup()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Secret) != 32 || s.Params != (OTPParams{Algorithm: AlgSHA256, Digits: 8, Period: 30 * time.Second}) {
		t.Fatalf("setup = %d-byte secret, %+v", len(s.Secret), s.Params)
	}
	other, _ := NewAuthorizerSetup()
	if bytes.Equal(s.Secret, other.Secret) {
		t.Fatal("two set-ups share a secret")
	}

	data, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got["algorithm"] != "SHA256" || got["digits"] != 8.0 || got["period"] != 30.0 {
		t.Fatalf("JSON = %s", data)
	}
	secret, err := base32NoPad.DecodeString(got["secret"].(string))
	if err != nil || !bytes.Equal(secret, s.Secret) {
		t.Fatalf("secret reads back as %x, %v", secret, err)
	}

	// An ERP that reads the JSON generates codes Selo accepts.
	now := time.Unix(1750000000, 0)
	code := TOTP(secret, now, OTPParams{Algorithm: Algorithm(got["algorithm"].(string)), Digits: 8, Period: 30 * time.Second})
	if _, ok := VerifyTOTP(s.Secret, code, now, s.Params, -1); !ok || len(code) != 8 {
		t.Fatalf("code %q from the JSON set-up refused", code)
	}

	uri := s.URI("Selo", "ERP Faturas")
	if !strings.HasPrefix(uri, "otpauth://totp/Selo:ERP%20Faturas?secret="+base32NoPad.EncodeToString(s.Secret)) ||
		!strings.HasSuffix(uri, "&algorithm=SHA256&digits=8&period=30") {
		t.Fatalf("URI = %s", uri)
	}

	bad := &AuthorizerSetup{Secret: s.Secret, Params: OTPParams{Digits: 12}}
	if _, err := bad.JSON(); err == nil {
		t.Fatal("JSON with 12 digits succeeded")
	}
}
