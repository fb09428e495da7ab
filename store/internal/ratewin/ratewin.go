// Package ratewin decides a rate take from the events already recorded, the
// same way for every store.
package ratewin

import (
	"time"

	"github.com/selo-qtsp/selo"
)

// Span is how far back a store must read events of a key for windows.
func Span(windows []selo.RateWindow) time.Duration {
	var d time.Duration
	for _, w := range windows {
		d = max(d, w.Per)
	}
	return d
}

// Decide reports whether one more event at now fits every window, given the
// times of the key's events newer than now-Span, newest first. When it does
// not, retryAt is when the oldest event that blocks leaves its window.
func Decide(now time.Time, windows []selo.RateWindow, newestFirst []time.Time) (retryAt time.Time, ok bool) {
	ok = true
	for _, w := range windows {
		from := now.Add(-w.Per)
		n := 0
		for _, at := range newestFirst {
			if at.After(from) {
				n++
			}
		}
		if n >= w.Max {
			ok = false
			// The Max-th newest event must leave the window first.
			if at := newestFirst[w.Max-1].Add(w.Per); at.After(retryAt) {
				retryAt = at
			}
		}
	}
	return retryAt, ok
}

// PurgeBatch bounds how many expired events one take deletes.
const PurgeBatch = 500
