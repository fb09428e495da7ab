// Package worker runs Selo's background work (the worker role of 'selo
// serve') on exactly one replica at a time. The replicas of the worker role
// all call Run; the one that takes the store's lock runs every task on each
// tick, the others stand by and try the lock again on each tick, so one of
// them takes over when the holder stops or dies.
package worker

import (
	"context"
	"log/slog"
	"time"
)

// LockName is the lock that elects the worker. It keeps the name it had when
// the worker only refreshed certificate status, so that during a rolling
// upgrade old and new replicas still elect one between them.
const LockName = "status-worker"

// Locker elects the one replica that runs the background work. The
// PostgreSQL store takes an advisory lock, the SQLite store a lock on a file
// beside the database.
type Locker interface {
	// TryLock takes the named lock if it is free. The lock is held until
	// unlock is called or the process dies.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// A Holder is a Locker that can tell whether a lock it gave is still held.
// The PostgreSQL store's advisory lock lives as long as its session, which
// can end while the process goes on (a database restart, a terminated
// backend, a dropped connection); PostgreSQL then frees the lock and another
// replica takes it. Run asks before each tick's work and, when the lock is
// gone, stops working and tries to take it again like any standby.
type Holder interface {
	Locker
	Held(ctx context.Context, name string) (bool, error)
}

// A Task is one piece of background work, run once per tick by the elected
// replica. Run reports its own results in the log; an error it returns is
// logged and the next tick runs it again.
type Task struct {
	Name string
	Run  func(ctx context.Context) error
}

// Run runs tasks, in order, every interval until ctx ends, while this
// replica holds lock's LockName; without the lock it tries again on the next
// tick. A nil lock runs the tasks with no election (one process alone over
// its store). The lock is released when Run returns. The first tick is at
// once.
func Run(ctx context.Context, lock Locker, interval time.Duration, log *slog.Logger, tasks ...Task) error {
	return RunReporting(ctx, lock, interval, log, nil, tasks...)
}

// RunReporting is Run that also calls leading (when not nil) with true when
// this replica starts running the work and with false when it stops: the
// lock lost, or Run returning. For the worker-leader metric.
func RunReporting(ctx context.Context, lock Locker, interval time.Duration, log *slog.Logger, leading func(bool), tasks ...Task) error {
	if leading == nil {
		leading = func(bool) {}
	}
	if interval <= 0 {
		interval = time.Minute
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var unlock func()
	defer func() {
		if unlock != nil {
			unlock()
		}
		leading(false)
	}()
	if lock == nil {
		leading(true)
	}
	for {
		if unlock == nil && lock != nil {
			u, ok, err := lock.TryLock(ctx, LockName)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("worker lock", "err", err)
			case ok:
				unlock = u
				leading(true)
				log.Info("worker: this replica runs the background work", "tasks", names(tasks))
			}
		}
		if h, ok := lock.(Holder); ok && unlock != nil {
			if held, err := h.Held(ctx, LockName); !held && ctx.Err() == nil {
				log.Warn("worker: this replica lost the lock and stands by", "err", err)
				unlock()
				unlock = nil
				leading(false)
			}
		}
		if unlock != nil || lock == nil {
			for _, task := range tasks {
				if ctx.Err() != nil {
					break
				}
				if err := task.Run(ctx); err != nil && ctx.Err() == nil {
					log.Error("worker task", "task", task.Name, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func names(tasks []Task) []string {
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i] = t.Name
	}
	return out
}
