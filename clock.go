package selo

import "time"

// Clock tells the time. Logic never calls time.Now directly so that expiry,
// validity windows and nextUpdate can be tested with a fake clock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock, in UTC.
type SystemClock struct{}

// Now returns the current time in UTC.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
