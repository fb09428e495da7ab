package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/metrics/prom"
)

// metricsFlags are serve's monitoring settings.
type metricsFlags struct {
	listen string
}

func (f *metricsFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "metrics-listen", "", "serve Prometheus metrics at http://`ADDR`/metrics (off when empty; keep it on an internal network: docs/operators.md lists every metric)")
}

// groupCommitQueue is implemented by stores that group certificate
// transactions (PostgreSQL).
type groupCommitQueue interface{ GroupCommitQueueLength() int }

// newMetrics returns the Prometheus sink with the gauges read from c's
// store at each scrape.
func (c *cli) newMetrics() *prom.Metrics {
	return prom.New(prom.State{
		CRLs: func(ctx context.Context) ([]prom.CRL, error) {
			if c.store == nil {
				return nil, nil
			}
			cas, err := c.store.ListCAs(ctx)
			if err != nil {
				return nil, err
			}
			var out []prom.CRL
			for _, ca := range cas {
				info, err := c.store.CRLInfo(ctx, ca.ID)
				if selo.ErrorCode(err) == selo.ENOTFOUND {
					continue
				}
				if err != nil {
					return out, err
				}
				out = append(out, prom.CRL{CA: ca.ID, ThisUpdate: info.ThisUpdate, NextUpdate: info.NextUpdate})
			}
			return out, nil
		},
		GroupCommitQueue: func() int {
			if q, ok := c.store.(groupCommitQueue); ok {
				return q.GroupCommitQueueLength()
			}
			return 0
		},
		OutboxQueue: func(ctx context.Context) (int, error) {
			if c.store == nil {
				return 0, nil
			}
			orders, err := c.store.ListOrders(ctx, selo.OrderFilter{State: selo.OrderPaid, Limit: maxOutboxGauge})
			return len(orders), err
		},
	})
}

// maxOutboxGauge bounds the orders a scrape counts: past it the gauge says
// "at least".
const maxOutboxGauge = 1000

// serveMetrics serves m on addr until ctx ends. Only /metrics: the health
// probes are on the main listener, where the load balancer looks.
func serveMetrics(ctx context.Context, m *prom.Metrics, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
