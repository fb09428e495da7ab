package authority

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// Defaults of the OCSP responder.
const (
	// DefaultOCSPValidity is nextUpdate - thisUpdate of a response. The CA/B
	// Forum asks for at least 8 hours and at most 10 days; responses are
	// signed again when half of it is left.
	DefaultOCSPValidity = 24 * time.Hour
	// DefaultOCSPCacheTTL bounds how long a replica serves a response from
	// memory before it looks in the database again when it cannot tell
	// otherwise that the status is unchanged: for answers that no stored
	// response backs (unknown serials, CA certificates), and for every
	// answer while the status changes cannot be read (ocspPollInterval). A
	// revocation made on this replica shows at once; one made elsewhere
	// within ocspPollInterval, at worst within this TTL.
	DefaultOCSPCacheTTL = 5 * time.Second
	// ocspPollInterval is how often a replica reads the status changes
	// committed since its last look (by any replica or process; the store
	// records them by trigger) and forgets the answers of those serials.
	// While these reads succeed, an answer backed by a stored response stays
	// in memory until that response is due to be signed again.
	ocspPollInterval = time.Second
	// ocspPollLimit is the most changes one read takes; more, and the
	// replica forgets every answer.
	ocspPollLimit = 10_000
	// ocspPollTimeout bounds one read of the status changes (the request
	// that makes it waits for it).
	ocspPollTimeout = 2 * time.Second
	// ocspSignerRenewBefore is how long before its notAfter a delegated
	// responder certificate is replaced.
	ocspSignerRenewBefore = 30 * 24 * time.Hour
	// ocspSignerReload is how often a replica reloads the responder
	// certificates (another replica's worker may have renewed one).
	ocspSignerReload = 10 * time.Minute
	// ocspIssuerReload is the least time between reloads of the CA list when
	// a request names an issuer this responder does not know.
	ocspIssuerReload = 10 * time.Second
	// ocspCacheMax bounds the memory cache; when full it starts again empty.
	ocspCacheMax = 200_000
	// ocspBackdate sets thisUpdate a little in the past for lagging clocks.
	ocspBackdate = time.Minute
)

// OCSPAnswer is the responder's answer to one request: the DER response and
// what the HTTP layer needs for its caching headers.
type OCSPAnswer struct {
	DER []byte
	// Status is OCSPSuccessful or an error status.
	Status pki.OCSPResponseStatus
	// Cacheable is true for a response without a nonce: HTTP caches may
	// keep it until NextUpdate (RFC 5019 6).
	Cacheable  bool
	ThisUpdate time.Time
	NextUpdate time.Time
	ProducedAt time.Time
	// ETag is a strong validator of DER, quoted, for cacheable answers.
	ETag string
	// LastModified and Expires are ProducedAt and NextUpdate as HTTP dates,
	// formatted once rather than on every request served from memory.
	LastModified, Expires string

	// stored: signing it also stored it as the serial's response.
	stored bool
}

// withValidators sets the ETag and the HTTP dates of a cacheable answer.
func (ans OCSPAnswer) withValidators() OCSPAnswer {
	ans.ETag = etag(ans.DER)
	ans.LastModified = ans.ProducedAt.UTC().Format(http.TimeFormat)
	ans.Expires = ans.NextUpdate.UTC().Format(http.TimeFormat)
	return ans
}

func etag(der []byte) string {
	sum := sha256.Sum256(der)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

type ocspIssuer struct {
	ca   *selo.CA
	cert *x509.Certificate
}

type ocspSigner struct {
	cert     *x509.Certificate
	signer   crypto.Signer
	notAfter time.Time
	loaded   time.Time
}

type ocspCached struct {
	answer  OCSPAnswer
	fetched time.Time
	// issuer is the issuerKey of the CertID answered: a serial asked about
	// under another CA (ours or not) has another answer, signed by another
	// responder, and must not be served this one.
	issuer string
	// tracked: the answer is a stored response, or was signed beside one
	// for another CertID hash, so a change of its status shows in the
	// store's status changes; it may be served past the cache TTL while
	// they are read (see servable).
	tracked bool
}

// ocspDerived is an answer for a non-SHA-1 CertID and the SHA-256 of the
// stored (SHA-1) response of the same serial when it was signed.
type ocspDerived struct {
	answer OCSPAnswer
	issuer string
	basis  [32]byte
}

// ocspRequestRef is what a repeated request's bytes stand for in the cache.
type ocspRequestRef struct {
	key, issuer string
}

// ocspResponder answers OCSP requests for the CAs in the store.
type ocspResponder struct {
	a        *Authority
	validity time.Duration
	cacheTTL time.Duration

	mu        sync.RWMutex
	issuers   map[string]*ocspIssuer // by hash algorithm + name hash + key hash
	cas       []*ocspIssuer          // the same CAs, once each
	issuersAt time.Time
	signers   map[string]*ocspSigner    // by CA ID
	cache     map[string]*ocspCached    // by hash algorithm + serial
	requests  map[string]ocspRequestRef // DER request -> cache entry, for repeated identical requests
	// derived holds the answers signed for CertIDs of another hash than
	// SHA-1 (whose responses are the ones stored), by hash algorithm +
	// serial, each with the stored response it was signed beside: it is
	// served again, past the cache TTL, for as long as that stored
	// response is the one in the database (a revocation deletes it; a
	// refresh replaces it), instead of signing anew on every cache miss.
	derived map[string]*ocspDerived
	// generation counts forget calls: an answer looked up before a status
	// change and remembered after it would bring the old status back.
	generation   uint64
	signerCreate sync.Mutex

	// poll is held by the one request that reads the status changes; the
	// others go on without waiting.
	poll sync.Mutex
	// pollAttempt is when the last read started, successful or not (Unix
	// nanoseconds): every request looks at it, so it takes no lock.
	pollAttempt atomic.Int64
	// The fields below are guarded by mu.
	pollCursor int64 // the store's cursor after the last read
	// lastPoll is when the last successful read started: every change
	// committed before it has been forgotten.
	lastPoll time.Time
	// trackedSince is when the first complete read (or the last incomplete
	// one, which forgot everything) ended: an answer fetched before it may
	// predate a change that no read reports, so only later ones are
	// served past the cache TTL.
	trackedSince time.Time
}

func newOCSPResponder(a *Authority, validity, cacheTTL time.Duration) *ocspResponder {
	return &ocspResponder{a: a, validity: validity, cacheTTL: cacheTTL,
		signers: map[string]*ocspSigner{}, cache: map[string]*ocspCached{}, requests: map[string]ocspRequestRef{},
		derived: map[string]*ocspDerived{}}
}

// ocspHashes are the CertID hash algorithms whose issuer hashes are indexed;
// others (SHA-384, SHA-512) are matched one CA at a time.
var ocspHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256}

func issuerKey(h crypto.Hash, nameHash, keyHash []byte) string {
	return string(rune(h)) + string(nameHash) + string(keyHash)
}

// loadIssuers reads the CA list and indexes the issuer hashes of each CA.
func (r *ocspResponder) loadIssuers(ctx context.Context) error {
	cas, err := r.a.store.ListCAs(ctx)
	if err != nil {
		return err
	}
	idx := map[string]*ocspIssuer{}
	list := make([]*ocspIssuer, 0, len(cas))
	for _, ca := range cas {
		cert, err := x509.ParseCertificate(ca.CertDER)
		if err != nil {
			return fmt.Errorf("parse certificate of ca %s: %w", ca.ID, err)
		}
		is := &ocspIssuer{ca: ca, cert: cert}
		list = append(list, is)
		for _, h := range ocspHashes {
			id, err := pki.NewOCSPCertID(cert, big.NewInt(1), h)
			if err != nil {
				return err
			}
			idx[issuerKey(h, id.IssuerNameHash, id.IssuerKeyHash)] = is
		}
	}
	r.mu.Lock()
	r.issuers, r.cas, r.issuersAt = idx, list, r.a.clock.Now()
	r.mu.Unlock()
	return nil
}

// findIssuer returns the CA a CertID names, or nil when it is none of ours.
func (r *ocspResponder) findIssuer(ctx context.Context, id pki.OCSPCertID) (*ocspIssuer, error) {
	lookup := func() *ocspIssuer {
		r.mu.RLock()
		defer r.mu.RUnlock()
		if is, ok := r.issuers[issuerKey(id.HashAlgorithm, id.IssuerNameHash, id.IssuerKeyHash)]; ok {
			return is
		}
		if slices.Contains(ocspHashes, id.HashAlgorithm) {
			return nil // indexed: the map has answered
		}
		for _, is := range r.cas {
			if id.MatchesIssuer(is.cert) {
				return is
			}
		}
		return nil
	}
	if is := lookup(); is != nil {
		return is, nil
	}
	r.mu.RLock()
	stale := r.issuers == nil || r.a.clock.Now().Sub(r.issuersAt) > ocspIssuerReload
	r.mu.RUnlock()
	if !stale {
		return nil, nil
	}
	if err := r.loadIssuers(ctx); err != nil {
		return nil, err
	}
	return lookup(), nil
}

// signerFor returns the CA's delegated responder, creating one if the CA has
// none yet or it is about to expire.
func (r *ocspResponder) signerFor(ctx context.Context, is *ocspIssuer) (*ocspSigner, error) {
	now := r.a.clock.Now()
	r.mu.RLock()
	s := r.signers[is.ca.ID]
	r.mu.RUnlock()
	if s != nil && now.Sub(s.loaded) < ocspSignerReload && s.notAfter.Sub(now) > ocspSignerRenewBefore/2 {
		return s, nil
	}
	r.signerCreate.Lock()
	defer r.signerCreate.Unlock()
	rec, err := r.a.store.FindOCSPSigner(ctx, is.ca.ID)
	if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
		return nil, err
	}
	if err != nil || rec.NotAfter.Sub(now) < ocspSignerRenewBefore {
		if rec, err = r.a.newOCSPSigner(ctx, "system", is.ca); err != nil {
			return nil, err
		}
	}
	cert, err := x509.ParseCertificate(rec.CertDER)
	if err != nil {
		return nil, fmt.Errorf("parse ocsp responder certificate of ca %s: %w", is.ca.ID, err)
	}
	signer, err := r.a.keys.Signer(ctx, rec.KeyID)
	if err != nil {
		return nil, fmt.Errorf("key of the ocsp responder of ca %s: %w", is.ca.ID, err)
	}
	s = &ocspSigner{cert: cert, signer: signer, notAfter: cert.NotAfter, loaded: now}
	r.mu.Lock()
	r.signers[is.ca.ID] = s
	r.mu.Unlock()
	return s, nil
}

// newOCSPSigner makes a delegated OCSP responder for ca: a key in the key
// store (ECDSA P-256 for an ECDSA CA, RSA 2048 for an RSA CA) and a
// certificate for it signed by the CA.
func (a *Authority) newOCSPSigner(ctx context.Context, actor string, ca *selo.CA) (*selo.OCSPSigner, error) {
	rec, err := a.createOCSPSigner(ctx, actor, ca)
	if err != nil {
		a.auditFailure(ctx, actor, "ocsp-signer.create", "ca/"+ca.ID, err)
		return nil, err
	}
	return rec, nil
}

func (a *Authority) createOCSPSigner(ctx context.Context, actor string, ca *selo.CA) (*selo.OCSPSigner, error) {
	if ca.Status == selo.CARevoked {
		return nil, selo.Errorf(selo.EINVALID, "CA %q is revoked and certifies no new OCSP responder", ca.ID)
	}
	iss, err := a.issuer(ctx, ca)
	if err != nil {
		return nil, err
	}
	alg := selo.KeyECDSAP256
	switch ca.KeyAlgorithm {
	case selo.KeyRSA2048, selo.KeyRSA3072, selo.KeyRSA4096:
		alg = selo.KeyRSA2048
	}
	now := a.clock.Now()
	keyID := "ocsp-" + ca.ID + "-" + now.UTC().Format("20060102T150405.000000")
	signer, err := a.keys.GenerateKey(ctx, keyID, alg, selo.KeyOptions{})
	if err != nil {
		return nil, err
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	der, err := pki.NewOCSPSignerCertificate(iss, signer.Public(), pki.OCSPSignerOptions{ValidityDays: a.ocspSignerDays}, serial, now, a.linter)
	if err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	rec := &selo.OCSPSigner{CAID: ca.ID, KeyID: keyID, CertDER: der, NotAfter: cert.NotAfter, CreatedAt: now}
	entry := a.audit(actor, "ocsp-signer.create", "ca/"+ca.ID, selo.OutcomeSuccess, map[string]any{
		"key_id": keyID, "key_algorithm": alg, "serial": pki.SerialHex(cert.SerialNumber), "not_after": cert.NotAfter,
	})
	if err := a.store.SaveOCSPSigner(ctx, rec, entry); err != nil {
		a.dropKey(ctx, keyID)
		return nil, err
	}
	return rec, nil
}

// Respond answers a DER OCSP request (RFC 6960, RFC 5019). It never fails:
// bad requests get malformedRequest, issuers Selo does not serve get
// unauthorized, and trouble on this side gets internalError or tryLater.
func (a *Authority) RespondOCSP(ctx context.Context, der []byte) OCSPAnswer {
	ans, memory, err := a.ocsp.respond(ctx, der)
	if err != nil {
		a.log.Error("ocsp response", "err", err)
		ans = OCSPErrorAnswer(pki.OCSPInternalError)
	}
	a.metrics.OCSPAnswered(int(ans.Status), memory)
	return ans
}

// OCSPErrorAnswer is the unsigned answer with an error status, such as
// malformedRequest for a request that cannot be read.
func OCSPErrorAnswer(s pki.OCSPResponseStatus) OCSPAnswer {
	return OCSPAnswer{DER: pki.OCSPErrorResponse(s), Status: s}
}

// respond answers der; memory is true when the answer came from memory.
func (r *ocspResponder) respond(ctx context.Context, der []byte) (ans OCSPAnswer, memory bool, err error) {
	// RFC 5019 clients ask for the same certificate with the same bytes
	// again and again: answer those from memory without parsing.
	now := r.a.clock.Now()
	r.pollChanges(ctx, now)
	r.mu.RLock()
	var c *ocspCached
	if ref, ok := r.requests[string(der)]; ok {
		if hit := r.cache[ref.key]; hit != nil && hit.issuer == ref.issuer && r.servable(hit, now) {
			c = hit
		}
	}
	r.mu.RUnlock()
	if c != nil {
		return c.answer, true, nil
	}
	req, err := pki.ParseOCSPRequest(der)
	if err != nil {
		return OCSPErrorAnswer(pki.OCSPMalformedRequest), false, nil
	}
	if len(req.CertIDs) == 1 && req.Nonce == nil {
		ans, memory, err := r.respondCached(ctx, req.CertIDs[0])
		if err == nil && ans.Status == pki.OCSPSuccessful && len(der) <= 512 {
			r.mu.Lock()
			if len(r.requests) >= ocspCacheMax {
				clear(r.requests)
			}
			id := req.CertIDs[0]
			r.requests[string(der)] = ocspRequestRef{key: cacheKey(id), issuer: issuerKey(id.HashAlgorithm, id.IssuerNameHash, id.IssuerKeyHash)}
			r.mu.Unlock()
		}
		return ans, memory, err
	}
	// A nonce or several certificates: signed for this request only.
	issuers := make([]*ocspIssuer, len(req.CertIDs))
	for i, id := range req.CertIDs {
		is, err := r.findIssuer(ctx, id)
		if err != nil {
			return OCSPAnswer{}, false, err
		}
		if is == nil || (i > 0 && is != issuers[0]) {
			// One response has one signer: every certificate must be of
			// the same CA, and of a CA of ours.
			return OCSPErrorAnswer(pki.OCSPUnauthorized), false, nil
		}
		issuers[i] = is
	}
	ans, err = r.sign(ctx, issuers[0], req.CertIDs, req.Nonce)
	return ans, false, err
}

func cacheKey(id pki.OCSPCertID) string {
	return string(rune(id.HashAlgorithm)) + "/" + pki.SerialHex(id.Serial)
}

// respondCached answers a single-certificate request without a nonce from
// memory, the database, or by signing (and storing) a new response.
func (r *ocspResponder) respondCached(ctx context.Context, id pki.OCSPCertID) (ans OCSPAnswer, memory bool, err error) {
	is, err := r.findIssuer(ctx, id)
	if err != nil {
		return OCSPAnswer{}, false, err
	}
	if is == nil {
		return OCSPErrorAnswer(pki.OCSPUnauthorized), false, nil
	}
	now := r.a.clock.Now()
	key, issuer := cacheKey(id), issuerKey(id.HashAlgorithm, id.IssuerNameHash, id.IssuerKeyHash)
	r.mu.RLock()
	c, generation := r.cache[key], r.generation
	hit := c != nil && c.issuer == issuer && r.servable(c, now)
	r.mu.RUnlock()
	if hit {
		return c.answer, true, nil
	}
	serial := pki.SerialHex(id.Serial)
	// Pre-signed responses are made with SHA-1 CertIDs, which RFC 5019
	// clients send.
	stored, err := r.a.store.FindOCSPResponse(ctx, serial)
	if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
		return OCSPAnswer{}, false, err
	}
	fresh := err == nil && stored.CAID == is.ca.ID && now.Before(stored.NextUpdate.Add(-r.validity/4))
	if fresh && id.HashAlgorithm == crypto.SHA1 {
		ans := OCSPAnswer{DER: stored.DER, Status: pki.OCSPSuccessful, Cacheable: true, ThisUpdate: stored.ThisUpdate, NextUpdate: stored.NextUpdate, ProducedAt: stored.ThisUpdate.Add(ocspBackdate)}.withValidators()
		r.remember(key, issuer, ans, now, generation, true)
		return ans, false, nil
	}
	if !fresh && id.HashAlgorithm != crypto.SHA1 {
		// No stored response to keep this answer beside: store the SHA-1
		// one first (as the worker would have), so that later misses find
		// the answer signed now instead of signing again.
		if s, err := r.storeSHA1(ctx, is, id.Serial); err != nil {
			return OCSPAnswer{}, false, err
		} else if s != nil {
			stored, fresh = s, now.Before(s.NextUpdate.Add(-r.validity/4))
		}
	}
	var basis [32]byte
	if fresh {
		// Another CertID hash: the answer signed beside this stored
		// response still says what the database says while the stored
		// response is unchanged, since every status change deletes it.
		basis = sha256.Sum256(stored.DER)
		r.mu.RLock()
		d := r.derived[key]
		r.mu.RUnlock()
		if d != nil && d.issuer == issuer && d.basis == basis && now.Before(d.answer.NextUpdate) {
			r.remember(key, issuer, d.answer, now, generation, true)
			return d.answer, true, nil
		}
	}
	// The status is read again while signing: a revocation committed since
	// the lookup above shows in this answer, and its basis (the deleted
	// stored response) is never found again.
	ans, err = r.sign(ctx, is, []pki.OCSPCertID{id}, nil)
	if err != nil {
		return OCSPAnswer{}, false, err
	}
	// A stored response backs the answer if there was one or signing it
	// stored it.
	r.remember(key, issuer, ans, now, generation, fresh || ans.stored)
	if fresh {
		r.rememberDerived(key, &ocspDerived{answer: ans, issuer: issuer, basis: basis}, generation)
	}
	return ans, false, nil
}

// storeSHA1 signs and stores the SHA-1 response of the certificate of is
// with this serial and returns it as stored; nil when the serial is no
// certificate of is (nothing is stored for those) or a status change came
// between.
func (r *ocspResponder) storeSHA1(ctx context.Context, is *ocspIssuer, serial *big.Int) (*selo.OCSPResponse, error) {
	hex := pki.SerialHex(serial)
	cert, err := r.a.store.FindCertificate(ctx, hex)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if cert.CAID != is.ca.ID {
		return nil, nil
	}
	id, err := pki.NewOCSPCertID(is.cert, serial, crypto.SHA1)
	if err != nil {
		return nil, err
	}
	if _, err := r.sign(ctx, is, []pki.OCSPCertID{id}, nil); err != nil {
		return nil, err
	}
	stored, err := r.a.store.FindOCSPResponse(ctx, hex)
	if selo.ErrorCode(err) == selo.ENOTFOUND {
		return nil, nil
	}
	return stored, err
}

// rememberDerived keeps an answer for a non-SHA-1 CertID with its basis,
// unless a status changed (forget) since the lookup at generation.
func (r *ocspResponder) rememberDerived(key string, d *ocspDerived, generation uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.generation != generation {
		return
	}
	if len(r.derived) >= ocspCacheMax {
		clear(r.derived)
	}
	r.derived[key] = d
}

// remember caches an answer looked up at generation, unless a status changed
// (forget) since: the answer may be older than that change. tracked: see
// ocspCached.
func (r *ocspResponder) remember(key, issuer string, ans OCSPAnswer, now time.Time, generation uint64, tracked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.generation != generation {
		return
	}
	if len(r.cache) >= ocspCacheMax {
		clear(r.cache)
		clear(r.requests)
	}
	r.cache[key] = &ocspCached{answer: ans, fetched: now, issuer: issuer, tracked: tracked}
}

// forget drops every cached response of a serial.
func (r *ocspResponder) forget(serial string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(serial)
}

// forgetLocked is forget with mu held.
func (r *ocspResponder) forgetLocked(serial string) {
	r.generation++
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		delete(r.cache, string(rune(h))+"/"+serial)
		delete(r.derived, string(rune(h))+"/"+serial)
	}
}

// servable reports whether a cached answer may be served at now; mu held. Any
// answer within the cache TTL of its fetch; past it, a tracked answer
// fetched after tracking began, while the status changes were read within
// the TTL, until its stored response is due to be signed again.
func (r *ocspResponder) servable(c *ocspCached, now time.Time) bool {
	if !now.Before(c.answer.NextUpdate) {
		return false
	}
	if now.Sub(c.fetched) < r.cacheTTL {
		return true
	}
	return c.tracked && !r.trackedSince.IsZero() && !c.fetched.Before(r.trackedSince) &&
		now.Sub(r.lastPoll) < r.cacheTTL && now.Before(c.answer.NextUpdate.Add(-r.validity/4))
}

// pollChanges reads the status changes committed since the last read, at
// most once per ocspPollInterval and by one request at a time, and forgets
// the answers of their serials (all answers when the store says some may
// have been missed). A failed read is logged and tried again at the next
// interval; meanwhile answers expire by the cache TTL as before.
func (r *ocspResponder) pollChanges(ctx context.Context, now time.Time) {
	since := now.UnixNano() - r.pollAttempt.Load()
	if (since >= 0 && since < int64(ocspPollInterval)) || !r.poll.TryLock() {
		return
	}
	defer r.poll.Unlock()
	r.pollAttempt.Store(now.UnixNano())
	r.mu.RLock()
	cursor := r.pollCursor
	r.mu.RUnlock()
	// Not the request's context: a relying party hanging up must not fail
	// the read for everyone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ocspPollTimeout)
	defer cancel()
	serials, next, complete, err := r.a.store.StatusChanges(ctx, cursor, ocspPollLimit)
	if err != nil {
		r.a.log.Warn("ocsp: read status changes", "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if complete {
		for _, serial := range serials {
			r.forgetLocked(serial)
		}
	} else {
		r.generation++
		clear(r.cache)
		clear(r.derived)
		clear(r.requests)
	}
	if cursor == 0 || !complete {
		r.trackedSince = r.a.clock.Now()
	}
	r.pollCursor, r.lastPoll = next, now
}

// status reads what the database says of one certificate of a CA.
func (r *ocspResponder) status(ctx context.Context, is *ocspIssuer, id pki.OCSPCertID, now time.Time) (pki.OCSPSingleResponse, bool, error) {
	single := pki.OCSPSingleResponse{CertID: id, Status: pki.OCSPUnknown, ThisUpdate: now.Add(-ocspBackdate), NextUpdate: now.Add(r.validity)}
	serial := pki.SerialHex(id.Serial)
	cert, err := r.a.store.FindCertificate(ctx, serial)
	switch {
	case err != nil && selo.ErrorCode(err) == selo.ENOTFOUND:
		return r.caStatus(ctx, is, id, single)
	case err != nil:
		return single, false, err
	case cert.CAID != is.ca.ID:
		return single, false, nil
	}
	single.Status = pki.OCSPGood
	if cert.Status == selo.CertRevoked {
		rev, err := r.a.store.FindRevocation(ctx, serial)
		if err != nil {
			return single, false, fmt.Errorf("revocation of %s: %w", serial, err)
		}
		single.Status, single.RevokedAt, single.Reason = pki.OCSPRevoked, rev.RevokedAt, rev.Reason
	}
	return single, true, nil
}

// caStatus answers for the certificate of a CA that is issued (a
// subordinate of is), read from the database: good, or revoked from the
// moment RevokeCA committed. A serial that is no CA certificate of is stays
// unknown. The answer is not stored (ocsp_responses holds end-entity
// certificates), only cached in memory for the cache TTL.
func (r *ocspResponder) caStatus(ctx context.Context, is *ocspIssuer, id pki.OCSPCertID, single pki.OCSPSingleResponse) (pki.OCSPSingleResponse, bool, error) {
	find := func() *ocspIssuer {
		r.mu.RLock()
		defer r.mu.RUnlock()
		for _, c := range r.cas {
			if c.ca.ParentID == is.ca.ID && c.cert.SerialNumber.Cmp(id.Serial) == 0 {
				return c
			}
		}
		return nil
	}
	child := find()
	if child == nil {
		// A CA created since the list was read: read it again, at most
		// once per ocspIssuerReload.
		r.mu.RLock()
		stale := r.a.clock.Now().Sub(r.issuersAt) > ocspIssuerReload
		r.mu.RUnlock()
		if !stale {
			return single, false, nil
		}
		if err := r.loadIssuers(ctx); err != nil {
			return single, false, err
		}
		if child = find(); child == nil {
			return single, false, nil
		}
	}
	single.Status = pki.OCSPGood
	rev, err := r.a.store.FindCARevocation(ctx, child.ca.ID)
	switch {
	case err == nil:
		single.Status, single.RevokedAt, single.Reason = pki.OCSPRevoked, rev.RevokedAt, rev.Reason
	case selo.ErrorCode(err) != selo.ENOTFOUND:
		return single, false, fmt.Errorf("revocation of ca %s: %w", child.ca.ID, err)
	}
	return single, false, nil
}

// sign signs a response for ids, all of CA is, with the CA's delegated
// responder. A single SHA-1 response without a nonce for a known
// certificate is stored for the next request.
func (r *ocspResponder) sign(ctx context.Context, is *ocspIssuer, ids []pki.OCSPCertID, nonce []byte) (OCSPAnswer, error) {
	s, err := r.signerFor(ctx, is)
	if err != nil {
		return OCSPAnswer{}, err
	}
	// A revocation committed between reading the status and saving the
	// response makes the store refuse the save (ECONFLICT): read again.
	for attempt := 1; ; attempt++ {
		ans, err := r.signOnce(ctx, is, s, ids, nonce)
		if selo.ErrorCode(err) == selo.ECONFLICT && attempt < 3 {
			continue
		}
		return ans, err
	}
}

func (r *ocspResponder) signOnce(ctx context.Context, is *ocspIssuer, s *ocspSigner, ids []pki.OCSPCertID, nonce []byte) (OCSPAnswer, error) {
	now := r.a.clock.Now().UTC().Truncate(time.Second)
	t := pki.OCSPResponseTemplate{ProducedAt: now, Nonce: nonce}
	known := false
	for _, id := range ids {
		single, ok, err := r.status(ctx, is, id, now)
		if err != nil {
			return OCSPAnswer{}, err
		}
		known = ok
		t.Responses = append(t.Responses, single)
	}
	der, err := pki.CreateOCSPResponse(s.cert, s.signer, t)
	if err != nil {
		return OCSPAnswer{}, err
	}
	first := t.Responses[0]
	ans := OCSPAnswer{DER: der, Status: pki.OCSPSuccessful, Cacheable: nonce == nil,
		ThisUpdate: first.ThisUpdate, NextUpdate: first.NextUpdate, ProducedAt: now}
	if ans.Cacheable {
		ans = ans.withValidators()
	}
	if len(ids) == 1 && nonce == nil && known && ids[0].HashAlgorithm == crypto.SHA1 {
		status := "good"
		if first.Status == pki.OCSPRevoked {
			status = "revoked"
		}
		if err := r.a.store.SaveOCSPResponse(ctx, &selo.OCSPResponse{
			Serial: pki.SerialHex(ids[0].Serial), CAID: is.ca.ID, Status: status,
			ThisUpdate: first.ThisUpdate, NextUpdate: first.NextUpdate, DER: der,
		}); err != nil {
			return OCSPAnswer{}, err
		}
		ans.stored = true
	}
	return ans, nil
}

// refresh signs and stores the SHA-1 response of one certificate of caID
// and drops what this replica had cached for it.
func (r *ocspResponder) refresh(ctx context.Context, caID, serial string) error {
	r.forget(serial)
	is, err := r.issuerByID(ctx, caID)
	if err != nil {
		return err
	}
	n, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		return selo.Errorf(selo.EINVALID, "serial %q is not hex", serial)
	}
	id, err := pki.NewOCSPCertID(is.cert, n, crypto.SHA1)
	if err != nil {
		return err
	}
	_, err = r.sign(ctx, is, []pki.OCSPCertID{id}, nil)
	return err
}

func (r *ocspResponder) issuerByID(ctx context.Context, caID string) (*ocspIssuer, error) {
	find := func() *ocspIssuer {
		r.mu.RLock()
		defer r.mu.RUnlock()
		for _, is := range r.cas {
			if is.ca.ID == caID {
				return is
			}
		}
		return nil
	}
	if is := find(); is != nil {
		return is, nil
	}
	if err := r.loadIssuers(ctx); err != nil {
		return nil, err
	}
	if is := find(); is != nil {
		return is, nil
	}
	return nil, selo.Errorf(selo.ENOTFOUND, "no CA with id %q", caID)
}
