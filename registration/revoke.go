package registration

import (
	"context"
	"strings"
	"sync"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/signing"
)

// revocationCodeLength is the length of a revocation code: 20 characters
// of codeAlphabet, about 99 bits. It is stored as an argon2id hash, like a
// password (the seed's PUK), so a copy of the database does not give it.
const revocationCodeLength = 20

// revocationReasons are the reasons a holder may give with a revocation
// code, as with the key (authority.RevokeByHolder).
var revocationReasons = map[selo.RevocationReason]bool{
	selo.ReasonUnspecified: true, selo.ReasonKeyCompromise: true, selo.ReasonAffiliationChanged: true,
	selo.ReasonSuperseded: true, selo.ReasonCessationOfOperation: true,
}

// dummyRevocationHash is what a code for a certificate without one is
// checked against, so that the answer takes as long as for a real one.
var dummyRevocationHash = sync.OnceValue(func() string {
	h, err := signing.HashPassword("no certificate has this code", signing.DefaultPasswordParams)
	if err != nil {
		panic("registration: hash the dummy revocation code: " + err.Error())
	}
	return h
})

// newRevocationCode makes the revocation code of a certificate just issued
// and stores its hash; it returns the code, to show the holder once.
func (s *Service) newRevocationCode(ctx context.Context, actor, serial string) (string, error) {
	code, err := randomCode(codeAlphabet, revocationCodeLength)
	if err != nil {
		return "", err
	}
	hash, err := signing.HashPassword(code, signing.DefaultPasswordParams)
	if err != nil {
		return "", err
	}
	if err := s.store.PutRevocationCode(ctx, serial, hash, s.audit(actor, "certificate.revocation_code.create", "certificate/"+serial,
		selo.OutcomeSuccess, nil)); err != nil {
		return "", err
	}
	return groupCode(code), nil
}

// groupCode writes a code in groups of five, as people read it back.
func groupCode(code string) string {
	var b strings.Builder
	for i, r := range code {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// RevokeWithCode revokes a certificate on the word of whoever has its
// revocation code (handed over once at issuance): the holder of a lost
// token, who no longer has the key. Wrong codes are counted per client
// address and per certificate (Config.GuessLimit: its PerAddress, and its
// PerEmail per certificate; past the latter a wrong code is ETOOMANYREQUESTS
// but the right one still revokes), and every try is audited. A certificate without
// a code answers as a wrong code does, after the same argon2id work.
func (s *Service) RevokeWithCode(ctx context.Context, serial, code string, reason selo.RevocationReason) (*selo.Revocation, bool, error) {
	norm, err := authority.NormalizeSerial(serial)
	if err != nil {
		s.auditFailure(ctx, "holder", "certificate.revoke", "certificate/(not a serial)", err)
		return nil, false, err
	}
	actor := "holder:" + norm + " (revocation code)"
	object := "certificate/" + norm
	if !revocationReasons[reason] {
		err := selo.Errorf(selo.EFORBIDDEN, "a holder may not revoke with reason %s; ask the registration desk", reason)
		s.auditFailure(ctx, actor, "certificate.revoke", object, err)
		return nil, false, err
	}
	g, err := s.takeGuess(ctx)
	if err != nil {
		return nil, false, err
	}
	now := s.clock.Now()
	serialKey := "revoke:certificate:" + norm
	// A full window holds back wrong codes only: the code is far too long to
	// guess, and whoever knows the serial (the thief of the token) must not
	// keep its holder from revoking by sending wrong ones.
	counted, limited := false, error(nil)
	if windows := s.cfg.GuessLimit.EmailWindows(); len(windows) > 0 {
		retryAt, ok, err := s.store.TakeRate(ctx, serialKey, now, windows)
		if err != nil {
			return nil, false, err
		}
		counted = ok
		if !ok {
			limited = selo.RateLimited(retryAt.Sub(now), "too many wrong revocation codes for this certificate")
		}
	}
	hash, err := s.store.FindRevocationCode(ctx, norm)
	known := err == nil
	if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
		return nil, false, err
	}
	if !known {
		hash = dummyRevocationHash()
	}
	if !signing.VerifyPassword(normalizeCode(code), hash) || !known {
		var err error = selo.Errorf(selo.EUNAUTHORIZED, "the serial or revocation code is wrong")
		if limited != nil {
			err = limited
		}
		s.auditFailure(ctx, actor, "certificate.revoke", object, err)
		return nil, false, err
	}
	s.giveBack(ctx, g)
	if counted {
		if err := s.store.ReturnRate(ctx, serialKey, now); err != nil {
			s.log.Error("return rate event", "err", err)
		}
	}
	return s.auth.Revoke(ctx, actor, authority.RevokeRequest{Serial: norm, Reason: reason})
}
