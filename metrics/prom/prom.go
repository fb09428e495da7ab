// Package prom implements metrics.Sink with the Prometheus client library
// and serves the exposition at /metrics ('selo serve --metrics-listen').
// The hot-path counters (OCSP answers, signHash batches) are resolved once,
// so that counting one is an atomic add.
package prom

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/selo-qtsp/selo/metrics"
)

// ocspStatusNames are the RFC 6960 OCSPResponseStatus values by number (4
// is not used).
var ocspStatusNames = [...]string{"successful", "malformedRequest", "internalError", "tryLater", "", "sigRequired", "unauthorized"}

// CRL is what the CRL gauges show of one CA's latest CRL.
type CRL struct {
	CA                     string
	ThisUpdate, NextUpdate time.Time
}

// State is read at each scrape for the gauges that describe the store
// rather than events. Each func may be nil (its gauge is then left out);
// each is called with a context that ends after ScrapeTimeout.
type State struct {
	// CRLs lists the latest CRL of each CA that has one.
	CRLs func(ctx context.Context) ([]CRL, error)
	// GroupCommitQueue is how many certificates wait for the next group
	// transaction (PostgreSQL).
	GroupCommitQueue func() int
	// OutboxQueue is how many "ready to lift" e-mails wait to be sent
	// again (orders left in paid).
	OutboxQueue func(ctx context.Context) (int, error)
}

// ScrapeTimeout bounds the State reads of one scrape.
const ScrapeTimeout = 5 * time.Second

// Metrics is a metrics.Sink over a Prometheus registry of its own.
type Metrics struct {
	registry *prometheus.Registry

	issued      *prometheus.CounterVec
	issueTime   *prometheus.HistogramVec
	ocsp        [len(ocspStatusNames)][2]prometheus.Counter // [status][cached]
	ocspOther   prometheus.Counter
	batches     [2]prometheus.Counter // [ok]
	signatures  prometheus.Counter
	approvals   *prometheus.CounterVec
	lockouts    prometheus.Counter
	leader      prometheus.Gauge
	scrapeError prometheus.Counter
}

var _ metrics.Sink = (*Metrics)(nil)

// New returns Metrics registered with a new registry, with Go runtime and
// process metrics, and the gauges of state.
func New(state State) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.registry.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.issued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "selo_certificates_issued_total", Help: "Certificate issuance attempts, by profile and outcome (ok, error).",
	}, []string{"profile", "outcome"})
	m.issueTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "selo_certificate_issue_duration_seconds", Help: "Time to issue and store one certificate, by profile.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"profile"})
	ocsp := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "selo_ocsp_answers_total", Help: "OCSP answers, by response status and whether memory answered (cache: hit, miss).",
	}, []string{"status", "cache"})
	for i, name := range ocspStatusNames {
		if name == "" {
			continue
		}
		m.ocsp[i][0] = ocsp.WithLabelValues(name, "miss")
		m.ocsp[i][1] = ocsp.WithLabelValues(name, "hit")
	}
	m.ocspOther = ocsp.WithLabelValues("other", "miss")
	batches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "selo_signhash_batches_total", Help: "signHash calls, by outcome (ok, refused).",
	}, []string{"outcome"})
	m.batches[0], m.batches[1] = batches.WithLabelValues("refused"), batches.WithLabelValues("ok")
	m.signatures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "selo_signhash_signatures_total", Help: "Signatures made by signHash.",
	})
	m.approvals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "selo_approvals_total", Help: "Signature authorizations, by approval method and outcome (approved, pending, wrong_code, refused, error).",
	}, []string{"method", "outcome"})
	m.lockouts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "selo_credential_lockouts_total", Help: "Credentials locked after too many wrong codes.",
	})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "selo_worker_leader", Help: "1 while this replica runs the background work (holds the worker lock), else 0.",
	})
	m.scrapeError = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "selo_metrics_state_errors_total", Help: "Scrapes that could not read a gauge from the store.",
	})
	for _, c := range []prometheus.Collector{m.issued, m.issueTime, ocsp, batches, m.signatures, m.approvals, m.lockouts, m.leader, m.scrapeError} {
		f(c)
	}
	f(newStateCollector(state, m.scrapeError))
	return m
}

// Registry returns the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// Handler serves the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Timeout: ScrapeTimeout + time.Second})
}

// CertificateIssued implements metrics.Sink.
func (m *Metrics) CertificateIssued(profile string, took time.Duration, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	m.issued.WithLabelValues(profile, outcome).Inc()
	if ok {
		m.issueTime.WithLabelValues(profile).Observe(took.Seconds())
	}
}

// OCSPAnswered implements metrics.Sink.
func (m *Metrics) OCSPAnswered(status int, cached bool) {
	if status < 0 || status >= len(m.ocsp) || m.ocsp[status][0] == nil {
		m.ocspOther.Inc()
		return
	}
	c := 0
	if cached {
		c = 1
	}
	m.ocsp[status][c].Inc()
}

// SignHashBatch implements metrics.Sink.
func (m *Metrics) SignHashBatch(signatures int, ok bool) {
	if !ok {
		m.batches[0].Inc()
		return
	}
	m.batches[1].Inc()
	m.signatures.Add(float64(signatures))
}

// Approval implements metrics.Sink.
func (m *Metrics) Approval(method, outcome string) {
	m.approvals.WithLabelValues(method, outcome).Inc()
}

// CredentialLocked implements metrics.Sink.
func (m *Metrics) CredentialLocked() { m.lockouts.Inc() }

// WorkerLeading implements metrics.Sink.
func (m *Metrics) WorkerLeading(leading bool) {
	if leading {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

// stateCollector reads State at each scrape.
type stateCollector struct {
	state                          State
	errors                         prometheus.Counter
	crlAge, crlNext, group, outbox *prometheus.Desc
}

// newStateCollector builds the descriptions of the State gauges.
func newStateCollector(state State, errors prometheus.Counter) *stateCollector {
	return &stateCollector{
		state: state, errors: errors,
		crlAge: prometheus.NewDesc("selo_crl_age_seconds",
			"Seconds since the thisUpdate of the CA's latest CRL.", []string{"ca"}, nil),
		crlNext: prometheus.NewDesc("selo_crl_next_update_timestamp_seconds",
			"nextUpdate of the CA's latest CRL, as a Unix time.", []string{"ca"}, nil),
		group: prometheus.NewDesc("selo_group_commit_queue_length",
			"Certificates waiting for the next group transaction (PostgreSQL).", nil, nil),
		outbox: prometheus.NewDesc("selo_outbox_queue_length",
			"'Ready to lift' e-mails waiting to be sent again (orders left in paid).", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.crlAge
	ch <- c.crlNext
	ch <- c.group
	ch <- c.outbox
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	now := time.Now()
	if c.state.CRLs != nil {
		crls, err := c.state.CRLs(ctx)
		if err != nil {
			c.errors.Inc()
		}
		for _, crl := range crls {
			ch <- prometheus.MustNewConstMetric(c.crlAge, prometheus.GaugeValue, now.Sub(crl.ThisUpdate).Seconds(), crl.CA)
			ch <- prometheus.MustNewConstMetric(c.crlNext, prometheus.GaugeValue, float64(crl.NextUpdate.UnixMilli())/1000, crl.CA)
		}
	}
	if c.state.GroupCommitQueue != nil {
		ch <- prometheus.MustNewConstMetric(c.group, prometheus.GaugeValue, float64(c.state.GroupCommitQueue()))
	}
	if c.state.OutboxQueue != nil {
		n, err := c.state.OutboxQueue(ctx)
		if err != nil {
			c.errors.Inc()
		} else {
			ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(n))
		}
	}
}
