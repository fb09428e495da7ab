// Package approval holds the cryptography of signature approvals: HOTP and
// TOTP (RFC 4226, RFC 6238) for authenticator apps and authorizers, one-time
// codes sent by SMS or e-mail, QR codes for enrollment, the wallet's push
// approvals signed with a registered P-256 device key, and the lockout
// schedule after wrong codes.
//
// It stores nothing and serves nothing: the signing service keeps the state
// (secrets sealed with a selo.SecretBox, the last accepted TOTP step, failure
// counts) and calls these functions. Everything that compares a secret does
// so in constant time, and no error message ever contains a secret.
package approval
