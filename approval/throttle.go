package approval

import "time"

// MaxFailures is how many wrong codes an approval survives: the fifth wrong
// code kills the approval and locks the credential for CoolingOff.
const MaxFailures = 5

// Cooling-off bounds. See CoolingOff for why there is a cap.
const (
	firstCoolingOff = time.Minute
	maxCoolingOff   = time.Hour
)

// CoolingOff returns how long a credential stays locked after its lockouts-th
// lockout in a row: 1 minute for the first, doubling each time, capped at 1
// hour; 0 for lockouts < 1.
//
// The growth makes guessing slow: with MaxFailures tries per lockout an
// attacker gets at most 5 guesses an hour at a fresh 6-digit code, a chance
// of 5 in a million each time. The cap is there because anyone who knows a
// credential's ID can send wrong codes on purpose: without it, repeated
// lockouts would lock the holder out for good, which would turn throttling
// into a denial of service against the holder. The caller resets the count
// after a successful approval.
func CoolingOff(lockouts int) time.Duration {
	if lockouts < 1 {
		return 0
	}
	d := firstCoolingOff
	for i := 1; i < lockouts && d < maxCoolingOff; i++ {
		d *= 2
	}
	return min(d, maxCoolingOff)
}
