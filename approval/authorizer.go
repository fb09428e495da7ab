package approval

import (
	"encoding/json"
	"time"
)

// AuthorizerSetup is what an integrator's ERP receives, once, when a holder
// registers an authorizer: the secret and parameters from which it generates
// TOTP signature codes. Selo keeps the secret sealed (selo.SecretBox) and
// never shows it again.
type AuthorizerSetup struct {
	Secret []byte
	Params OTPParams
}

// authorizerParams are stronger than an authenticator app's defaults, since
// no human reads or types the codes: SHA-256, 8 digits, 30 s.
var authorizerParams = OTPParams{Algorithm: AlgSHA256, Digits: 8, Period: 30 * time.Second}

// NewAuthorizerSetup returns set-up data with a fresh 32-byte secret and
// SHA-256, 8 digits, 30 s.
func NewAuthorizerSetup() (*AuthorizerSetup, error) {
	secret, err := NewOTPSecret(authorizerParams.Algorithm)
	if err != nil {
		return nil, err
	}
	return &AuthorizerSetup{Secret: secret, Params: authorizerParams}, nil
}

// URI returns the set-up as an otpauth Key URI (see OTPAuthURI) labelled
// with the issuer and the authorizer's name, for ERPs that import those.
func (s *AuthorizerSetup) URI(issuer, authorizerName string) string {
	return OTPAuthURI(issuer, authorizerName, s.Secret, s.Params)
}

// authorizerJSON is the JSON form of AuthorizerSetup.
type authorizerJSON struct {
	Secret    string    `json:"secret"`
	Algorithm Algorithm `json:"algorithm"`
	Digits    int       `json:"digits"`
	Period    int64     `json:"period"`
}

// JSON returns the set-up as
//
//	{"secret":"BASE32","algorithm":"SHA256","digits":8,"period":30}
//
// with the secret in unpadded base32 and the period in seconds, zero values
// resolved. Parameters that fail OTPParams.Validate are EINVALID.
func (s *AuthorizerSetup) JSON() ([]byte, error) {
	if err := s.Params.Validate(); err != nil {
		return nil, err
	}
	r := s.Params.resolved()
	return json.Marshal(authorizerJSON{
		Secret:    base32NoPad.EncodeToString(s.Secret),
		Algorithm: r.Algorithm,
		Digits:    r.Digits,
		Period:    int64(r.Period / time.Second),
	})
}
