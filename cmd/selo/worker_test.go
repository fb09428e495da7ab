package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/lift/lifttest"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/registration"
)

// waitFor polls cond until it holds, and fails the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// replicaMailer is one replica's mail server: it records the "ready to
// lift" e-mails it took, per order number, and refuses them while down.
type replicaMailer struct {
	mu      sync.Mutex
	down    bool
	ready   map[string]int // order number → ready e-mails sent
	refused int
}

func (m *replicaMailer) SendEmail(_ context.Context, e selo.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	number, ok := readyOrder(e)
	if !ok {
		return nil
	}
	if m.down {
		m.refused++
		return fmt.Errorf("smtp: connection refused")
	}
	if m.ready == nil {
		m.ready = map[string]int{}
	}
	m.ready[number]++
	return nil
}

func (m *replicaMailer) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

// counts returns the ready e-mails sent per order, and how many were refused.
func (m *replicaMailer) counts() (map[string]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.ready {
		out[k] = v
	}
	return out, m.refused
}

// readyOrder returns the order number of a "ready to lift" e-mail.
func readyOrder(e selo.Email) (string, bool) {
	_, number, ok := strings.Cut(e.Subject, "ready: order ")
	return strings.TrimSpace(number), ok
}

// refuseReady is the desk's mailer in these tests: it takes every e-mail
// but the "ready to lift" one, so that the orders it makes stay paid and
// are the worker's to notify.
type refuseReady struct{}

func (refuseReady) SendEmail(_ context.Context, e selo.Email) error {
	if _, ok := readyOrder(e); ok {
		return fmt.Errorf("smtp: connection refused")
	}
	return nil
}

// paidOrders makes n orders, validated and paid, whose "ready to lift"
// e-mail the desk could not send (left in paid for the worker), and returns
// their numbers.
func paidOrders(t *testing.T, desk *registration.Service, n int) []string {
	t.Helper()
	ctx := t.Context()
	var numbers []string
	for range n {
		created, err := desk.CreateOrder(ctx, "test", registration.OrderRequest{
			Holder:  selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678"},
			Profile: "qualified-sign", Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
		if err != nil {
			t.Fatal(err)
		}
		check, err := desk.SubmitIdentityCheck(ctx, created.Order.Number, created.AccessCode,
			lifttest.IDCard(created.Order.Holder, lifttest.CardNumber, lifttest.Expiry()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := desk.RecordPayment(ctx, "test", created.Order.Number, registration.Payment{Reference: "R-" + created.Order.Number, AmountCents: 100, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		// The desk's ready e-mail fails: the order goes back to paid, where
		// a running worker may already have taken it.
		o, err := desk.DecideIdentityCheck(ctx, "test", check.ID, true, "ok")
		if err != nil {
			t.Fatal(err)
		}
		numbers = append(numbers, o.Number)
	}
	return numbers
}

// startReplica runs 'selo serve' in process over data with args, as one
// replica whose e-mails go to mailer; stop ends it as Ctrl-C would.
func startReplica(t *testing.T, data string, mailer selo.Mailer, args ...string) (stop func()) {
	t.Helper()
	sms, err := notify.OpenOutbox(filepath.Join(t.TempDir(), "outbox"), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	watch := watchStderr(pr)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		c := newCLI(strings.NewReader(""), io.Discard, pw)
		defer c.close()
		c.notify = &notifiers{Mailer: mailer, SMS: sms, Templates: notify.DefaultTemplates()}
		root := c.rootCommand()
		root.SetArgs(append([]string{"serve", "--listen", "127.0.0.1:0", "--no-init", "--data", data,
			"--worker-interval", "20ms", "--log-level", "info"}, args...))
		root.SetOut(io.Discard)
		root.SetErr(pw)
		if err := root.ExecuteContext(ctx); err != nil {
			fmt.Fprintf(pw, "selo serve: %v\n", err)
		}
		pw.Close()
	}()
	watch.waitListening(t, exited)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("a replica did not stop:\n%s", watch)
		}
	}
	t.Cleanup(stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica %v:\n%s", args, watch)
		}
	})
	return stop
}

// TestReadyNoticesOneReplica runs two replicas of the worker role and one of
// the API over one store. The "ready to lift" e-mails of orders left in paid
// are sent by the elected worker alone, each exactly once: while its mail
// server refuses them, the standby does not send them in its place; the API
// replica sends none; when the elected worker stops, the standby takes over.
func TestReadyNoticesOneReplica(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var data, dsn string
			if backend == "postgres" {
				dsn = postgresTestDSN(t)
				data = filepath.Join(t.TempDir(), "data")
				mustRunSelo(t, "init", "--data", data, "--database", dsn)
			} else {
				data = dataDir(t)
			}
			desk, _ := holderDeskOver(t, data, dsn, refuseReady{})
			mailA, mailB, mailAPI := &replicaMailer{}, &replicaMailer{}, &replicaMailer{}
			sentBy := func(m *replicaMailer, numbers []string) bool {
				got, _ := m.counts()
				for _, n := range numbers {
					if got[n] == 0 {
						return false
					}
				}
				return true
			}

			first := paidOrders(t, desk, 2)
			stopA := startReplica(t, data, mailA, "--roles", "ocsp,worker")
			waitFor(t, "replica A to send the first orders' ready e-mails", func() bool { return sentBy(mailA, first) })
			// A holds the worker's lock now: B stands by.
			startReplica(t, data, mailB, "--roles", "ocsp,worker")
			startReplica(t, data, mailAPI, "--roles", "api")

			// With A's mail server down, A fails on every pass and puts the
			// orders back in paid; B, on the same ticks, must not send them.
			mailA.setDown(true)
			second := paidOrders(t, desk, 3)
			waitFor(t, "replica A to try the second orders three times", func() bool {
				_, refused := mailA.counts()
				gotB, _ := mailB.counts()
				return refused >= 3*len(second) || len(gotB) > 0
			})
			if got, _ := mailB.counts(); len(got) != 0 {
				t.Fatalf("the standby worker sent ready e-mails while the elected one holds the lock: %v", got)
			}
			mailA.setDown(false)
			waitFor(t, "replica A to send the second orders' ready e-mails", func() bool { return sentBy(mailA, second) })

			// The elected worker stops: the standby takes over.
			stopA()
			third := paidOrders(t, desk, 2)
			waitFor(t, "replica B to take over", func() bool { return sentBy(mailB, third) })

			gotA, _ := mailA.counts()
			gotB, _ := mailB.counts()
			gotAPI, _ := mailAPI.counts()
			if len(gotAPI) != 0 {
				t.Errorf("the API replica sent ready e-mails: %v", gotAPI)
			}
			for _, n := range append(first, second...) {
				if gotA[n] != 1 || gotB[n] != 0 {
					t.Errorf("order %s: %d ready e-mails from the elected worker, %d from the standby; want 1 and 0", n, gotA[n], gotB[n])
				}
			}
			for _, n := range third {
				if gotB[n] != 1 || gotA[n] != 0 {
					t.Errorf("order %s after the failover: %d ready e-mails from the new worker, %d from the stopped one; want 1 and 0", n, gotB[n], gotA[n])
				}
			}
			if len(gotA) != len(first)+len(second) || len(gotB) != len(third) {
				t.Errorf("ready e-mails for orders not made here: %v %v", gotA, gotB)
			}
		})
	}
}
