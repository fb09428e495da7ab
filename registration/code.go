package registration

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
)

// codeAlphabet leaves out letters and digits people confuse (0/O, 1/I/L).
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// randomCode returns n characters of alphabet drawn uniformly at random.
func randomCode(alphabet string, n int) (string, error) {
	out := make([]byte, 0, n)
	limit := 256 - 256%len(alphabet) // reject bytes that would bias the draw
	var buf [32]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// normalizeCode removes what people add when they copy a code (spaces,
// dashes) and upper-cases it.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
}

// codeHash is the keyed hash stored for a code, bound to its owner and
// purpose so a hash copied to another row does not match there.
func (s *Service) codeHash(owner, purpose, code string) []byte {
	m := hmac.New(sha256.New, s.cfg.CodeKey)
	m.Write([]byte(owner))
	m.Write([]byte{0})
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(normalizeCode(code)))
	return m.Sum(nil)
}

// newCode makes a one-time code for owner and purpose, returning the code
// (to send, never to store) and its stored form.
func (s *Service) newCode(owner, purpose string, alphabet string, length int, validity time.Duration) (string, *selo.OneTimeCode, error) {
	code, err := randomCode(alphabet, length)
	if err != nil {
		return "", nil, err
	}
	now := s.clock.Now()
	return code, &selo.OneTimeCode{Owner: owner, Purpose: purpose, Hash: s.codeHash(owner, purpose, code),
		ExpiresAt: now.Add(validity), CreatedAt: now}, nil
}

// errWrongCode is what every wrong, expired or unknown code gets, so the
// answer tells an attacker nothing about which it was.
// A locked code answers the same, so that nobody learns that an order
// exists by locking its code.
var errWrongCode = selo.Errorf(selo.EUNAUTHORIZED, "the order number or code is wrong or has expired, or no longer works after too many wrong tries (the holder can ask for a new one: docs/lifting.md)")

// hmacEqual compares two MACs in constant time.
func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }

// checkCode compares code with the stored one in constant time. The attempt
// is counted before the comparison, so concurrent guesses cannot exceed
// MaxCodeFailures; a matching code takes its attempt back. The failure that
// kills a code is audited.
func (s *Service) checkCode(ctx context.Context, actor, owner, purpose, code string) error {
	stored, err := s.store.TryOneTimeCode(ctx, owner, purpose, s.cfg.MaxCodeFailures)
	switch selo.ErrorCode(err) {
	case "":
	case selo.ENOTFOUND:
		return errWrongCode
	case selo.EFORBIDDEN:
		if purpose == purposeLift || purpose == purposeAccess {
			return errWrongCode
		}
		return err
	default:
		return err
	}
	expired := !s.clock.Now().Before(stored.ExpiresAt)
	if !expired && hmac.Equal(stored.Hash, s.codeHash(owner, purpose, code)) {
		if err := s.store.ReleaseOneTimeCodeTry(ctx, owner, purpose); err != nil {
			return err
		}
		return nil
	}
	details := map[string]any{"purpose": purpose, "failures": stored.Failures, "expired": expired}
	action := "code.wrong"
	if stored.Failures >= s.cfg.MaxCodeFailures {
		action = "code.locked"
	}
	if err := s.store.AppendAudit(ctx, s.audit(actor, action, owner, selo.OutcomeFailure, details)); err != nil {
		s.log.Error("append audit entry", "action", action, "object", owner, "err", err)
	}
	if action == "code.locked" && purpose != purposeLift && purpose != purposeAccess {
		return selo.Errorf(selo.EFORBIDDEN, "the %s code was entered wrongly too many times and no longer works", purpose)
	}
	return errWrongCode
}
