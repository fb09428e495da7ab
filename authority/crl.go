package authority

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// DefaultCRLValidity is how long a CRL is valid (nextUpdate - thisUpdate)
// when Config.CRLValidity is zero. ETSI EN 319 411-1 (CSS-6.3.9-06) wants a
// new CRL at least every 24 hours and nextUpdate no later than 7 days on.
const DefaultCRLValidity = 24 * time.Hour

// PublishCRL signs a new full CRL for the CA with the next CRL number and
// stores it as the CA's current one. The revocations are streamed from the
// store: memory does not grow with their number beyond the DER itself.
func (a *Authority) PublishCRL(ctx context.Context, actor, caID string) (*selo.CRL, error) {
	crl, err := a.publishCRL(ctx, actor, caID)
	if err != nil {
		a.auditFailure(ctx, actor, "crl.publish", "ca/"+caID, err)
		return nil, err
	}
	a.log.Info("crl published", "ca", caID, "number", crl.Number, "entries", crl.Entries, "bytes", len(crl.DER))
	return crl, nil
}

func (a *Authority) publishCRL(ctx context.Context, actor, caID string) (*selo.CRL, error) {
	ca, err := a.store.FindCA(ctx, caID)
	if err != nil {
		return nil, err
	}
	iss, err := a.issuer(ctx, ca)
	if err != nil {
		return nil, err
	}
	// The number is taken (durably) before the revocations are read, so a
	// revocation committed before this call is in this CRL or a later number.
	number, err := a.store.NextCRLNumber(ctx, caID)
	if err != nil {
		return nil, err
	}
	now := a.clock.Now().UTC().Truncate(time.Second)
	tmpl := pki.CRLTemplate{
		Number:                   number,
		ThisUpdate:               now,
		NextUpdate:               now.Add(a.crlValidity),
		IssuingDistributionPoint: a.URLs(caID).CRL,
		OnlyContainsUserCerts:    !ca.IsRoot(),
		OnlyContainsCACerts:      ca.IsRoot(),
		TempDir:                  a.tempDir,
	}
	// The CA certificates this CA issued and revoked (few: an ARL's
	// content when this is a root), read before the certificates'.
	caRevs, err := a.store.ListCARevocations(ctx, caID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	stats, err := pki.WriteCRL(&buf, iss.Cert, iss.Signer, tmpl, func(yield func(pki.CRLEntry) error) error {
		for _, r := range caRevs {
			if r.RevokedAt.Truncate(time.Second).After(tmpl.ThisUpdate) {
				continue // as below
			}
			if err := yield(pki.CRLEntry{Serial: r.Serial, RevokedAt: r.RevokedAt, Reason: r.Reason, InvalidityDate: r.InvalidityDate}); err != nil {
				return err
			}
		}
		return a.store.ForEachRevocation(ctx, caID, func(rev *selo.Revocation) error {
			if rev.RevokedAt.Truncate(time.Second).After(tmpl.ThisUpdate) {
				// Committed while this CRL was being made: the publication
				// that revocation scheduled (or the status worker's next
				// pass, which sees a revocation newer than the CRL) lists it.
				return nil
			}
			return yield(pki.NewCRLEntry(rev))
		})
	})
	if err != nil {
		return nil, err
	}
	crl := &selo.CRL{
		CAID: caID, Number: number, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate,
		Entries: stats.Entries, DER: buf.Bytes(), CreatedAt: now,
	}
	if err := a.store.SaveCRL(ctx, crl); err != nil {
		return nil, err
	}
	a.crlCache.put(caID, &cachedCRL{crl: crl, checked: now})
	sum := sha256.Sum256(crl.DER)
	if err := a.store.AppendAudit(ctx, a.audit(actor, "crl.publish", "ca/"+caID, selo.OutcomeSuccess, map[string]any{
		"number": number, "entries": stats.Entries, "bytes": stats.Bytes,
		"this_update": crl.ThisUpdate, "next_update": crl.NextUpdate, "sha256": hex.EncodeToString(sum[:]),
	})); err != nil {
		return nil, err
	}
	return crl, nil
}

// crlCheckEvery is how often a cached CRL is compared with the database's
// latest number (another replica may have published a newer one).
const crlCheckEvery = 2 * time.Second

// crlCache keeps each CA's latest CRL in memory: a CRL can be megabytes, and
// relying parties fetch it often.
type crlCache struct {
	mu      sync.Mutex
	entries map[string]*cachedCRL
	// publishing is held by CurrentCRL while it publishes a missing or
	// expired CRL, so that relying parties fetching it at once cause one
	// publication, not one each.
	publishing sync.Mutex
}

type cachedCRL struct {
	crl     *selo.CRL
	checked time.Time
}

func (c *crlCache) get(caID string) *cachedCRL {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[caID]
}

func (c *crlCache) put(caID string, e *cachedCRL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]*cachedCRL{}
	}
	if old := c.entries[caID]; old != nil && old.crl.Number > e.crl.Number {
		return
	}
	c.entries[caID] = e
}

// CurrentCRL returns the CA's latest CRL, from memory when the database has
// no newer one, and publishes one first when there is none yet or the latest
// has expired.
func (a *Authority) CurrentCRL(ctx context.Context, caID string) (*selo.CRL, error) {
	if crl, err := a.validCRL(ctx, caID, true); crl != nil || err != nil {
		return crl, err
	}
	// Before the lock: asking for CAs that do not exist must not hold up
	// the publications of those that do.
	if _, err := a.store.FindCA(ctx, caID); err != nil {
		return nil, err
	}
	a.crlCache.publishing.Lock()
	defer a.crlCache.publishing.Unlock()
	// Another caller may have published while this one waited.
	if crl, err := a.validCRL(ctx, caID, false); crl != nil || err != nil {
		return crl, err
	}
	return a.PublishCRL(ctx, "system", caID)
}

// validCRL returns the CA's latest CRL if it has not expired, from memory
// when the database has no newer one (and, with recent, when memory was
// compared with the database less than crlCheckEvery ago), or nil.
func (a *Authority) validCRL(ctx context.Context, caID string, recent bool) (*selo.CRL, error) {
	now := a.clock.Now()
	cached := a.crlCache.get(caID)
	if recent && cached != nil && now.Sub(cached.checked) < crlCheckEvery && now.Before(cached.crl.NextUpdate) {
		return cached.crl, nil
	}
	info, err := a.store.CRLInfo(ctx, caID)
	switch {
	case err != nil && selo.ErrorCode(err) != selo.ENOTFOUND:
		return nil, err
	case err != nil || !now.Before(info.NextUpdate):
		return nil, nil
	case cached != nil && cached.crl.Number == info.Number:
		a.crlCache.put(caID, &cachedCRL{crl: cached.crl, checked: now})
		return cached.crl, nil
	}
	crl, err := a.store.LatestCRL(ctx, caID)
	if err != nil {
		return nil, err
	}
	a.crlCache.put(caID, &cachedCRL{crl: crl, checked: now})
	return crl, nil
}
