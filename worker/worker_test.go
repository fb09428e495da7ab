package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/worker"
)

// lockerFunc is a Locker made of a function.
type lockerFunc func(ctx context.Context, name string) (func(), bool, error)

func (f lockerFunc) TryLock(ctx context.Context, name string) (func(), bool, error) {
	return f(ctx, name)
}

// TestRun: without the lock no task runs; once the lock is taken every task
// runs on each tick, in order, a failing one not stopping the next; the lock
// is released when Run returns.
func TestRun(t *testing.T) {
	tries := make(chan string, 100)
	grant := make(chan bool, 1)
	unlocked := make(chan struct{})
	lock := lockerFunc(func(_ context.Context, name string) (func(), bool, error) {
		tries <- name
		select {
		case <-grant:
			return func() { close(unlocked) }, true, nil
		default:
			return nil, false, nil
		}
	})
	ran := make(chan string, 100)
	tasks := []worker.Task{
		{Name: "first", Run: func(context.Context) error { ran <- "first"; return errors.New("broken") }},
		{Name: "second", Run: func(context.Context) error { ran <- "second"; return nil }},
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, lock, time.Millisecond, nil, tasks...) }()
	for range 3 {
		if name := <-tries; name != worker.LockName {
			t.Fatalf("lock %q, want %q", name, worker.LockName)
		}
	}
	if len(ran) != 0 {
		t.Fatalf("%d tasks ran without the lock", len(ran))
	}
	grant <- true
	for _, want := range []string{"first", "second", "first", "second"} {
		if got := <-ran; got != want {
			t.Fatalf("ran %q, want %q", got, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	select {
	case <-unlocked:
	default:
		t.Fatal("Run did not release the lock when it stopped")
	}
}

// TestRunNoLock: with no lock (one process alone) the tasks run at once.
func TestRunNoLock(t *testing.T) {
	ran := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, nil, time.Hour, nil, worker.Task{Name: "one", Run: func(context.Context) error {
			ran <- struct{}{}
			return nil
		}})
	}()
	<-ran
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// holderLock is a Holder whose lock the test takes away.
type holderLock struct {
	tries    chan struct{}
	held     chan bool // what the next Held answers
	unlocked chan struct{}
}

func (h *holderLock) TryLock(context.Context, string) (func(), bool, error) {
	h.tries <- struct{}{}
	return func() { h.unlocked <- struct{}{} }, true, nil
}

func (h *holderLock) Held(ctx context.Context, _ string) (bool, error) {
	select {
	case held := <-h.held:
		if held {
			return true, nil
		}
		return false, errors.New("session terminated")
	case <-ctx.Done(): // Run was stopped while it asked
		return false, ctx.Err()
	}
}

// TestRunLostLock: a lock whose session died while the process lives (a
// PostgreSQL restart, a terminated backend) is let go: no task runs on that
// tick, the unlock is called, and the replica tries the lock again like any
// standby, working once it holds it again.
func TestRunLostLock(t *testing.T) {
	h := &holderLock{tries: make(chan struct{}, 10), held: make(chan bool), unlocked: make(chan struct{}, 10)}
	ran := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, h, time.Millisecond, nil, worker.Task{Name: "t", Run: func(context.Context) error {
			ran <- struct{}{}
			return nil
		}})
	}()
	<-h.tries
	h.held <- true
	<-ran
	h.held <- false // the session is gone
	<-h.unlocked
	<-h.tries // stands by and tries again at once on the next tick
	if len(ran) != 0 {
		t.Fatal("a task ran on the tick the lock was found lost")
	}
	h.held <- true
	<-ran
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// TestRunReportsLeading: RunReporting says true once the lock is taken and
// false when Run returns (the worker-leader metric).
func TestRunReportsLeading(t *testing.T) {
	grant := make(chan bool, 1)
	lock := lockerFunc(func(context.Context, string) (func(), bool, error) {
		select {
		case <-grant:
			return func() {}, true, nil
		default:
			return nil, false, nil
		}
	})
	reports := make(chan bool, 10)
	ran := make(chan struct{}, 100)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- worker.RunReporting(ctx, lock, time.Millisecond, nil, func(l bool) { reports <- l },
			worker.Task{Name: "t", Run: func(context.Context) error { ran <- struct{}{}; return nil }})
	}()
	grant <- true
	<-ran
	if got := <-reports; !got {
		t.Fatal("first report is false, want true once the lock is taken")
	}
	cancel()
	<-done
	if got := <-reports; got {
		t.Fatal("no false report when Run returned")
	}
}
