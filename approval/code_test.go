package approval

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"math"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

func TestNewNumericCodeShape(t *testing.T) {
	for digits := MinDigits; digits <= MaxDigits; digits++ {
		for range 200 {
			code, err := NewNumericCode(digits)
			if err != nil {
				t.Fatal(err)
			}
			if len(code) != digits {
				t.Fatalf("NewNumericCode(%d) = %q", digits, code)
			}
			for _, c := range code {
				if c < '0' || c > '9' {
					t.Fatalf("NewNumericCode(%d) = %q has a non-digit", digits, code)
				}
			}
		}
	}
	for _, digits := range []int{-1, 0, 4, 5, 9, 10} {
		if _, err := NewNumericCode(digits); selo.ErrorCode(err) != selo.EINVALID {
			t.Errorf("NewNumericCode(%d) = %v, want EINVALID", digits, err)
		}
	}
}

// TestNewNumericCodeUniform is a sanity check, not a proof: it catches a
// skewed generator (a lost leading zero, a digit never drawn, modulo of a
// byte) with a threshold far beyond chance. Each chi-square below has 99 or 9
// degrees of freedom (mean 99 or 9, standard deviation about 14 or 4.2); the
// thresholds sit more than 14 standard deviations above the mean, so a fair
// generator fails less often than once in 10^30 runs.
func TestNewNumericCodeUniform(t *testing.T) {
	const n = 50000
	var leading [100]float64    // first two digits
	var position [6][10]float64 // each digit on its own
	for range n {
		code, err := NewNumericCode(6)
		if err != nil {
			t.Fatal(err)
		}
		leading[int(code[0]-'0')*10+int(code[1]-'0')]++
		for i := range 6 {
			position[i][code[i]-'0']++
		}
	}
	chi := func(bins []float64) float64 {
		expected := float64(n) / float64(len(bins))
		var sum float64
		for _, o := range bins {
			sum += (o - expected) * (o - expected) / expected
		}
		return sum
	}
	if c := chi(leading[:]); c > 300 || math.IsNaN(c) {
		t.Errorf("first two digits: chi-square %.1f over 99 degrees of freedom", c)
	}
	for i := range position {
		if c := chi(position[i][:]); c > 70 {
			t.Errorf("digit %d: chi-square %.1f over 9 degrees of freedom: %v", i, c, position[i])
		}
	}
}

func TestHashCode(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	stored := HashCode(key, "sms-signature", "042913")

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("sms-signature\x00042913"))
	if want := mac.Sum(nil); !bytes.Equal(stored, want) {
		t.Fatalf("HashCode = %x, want HMAC-SHA256(key, purpose||0||code) = %x", stored, want)
	}
	if !CodeEqual(key, "sms-signature", "042913", stored) {
		t.Fatal("the right code is refused")
	}
	for _, tc := range []struct {
		name, purpose, code string
		key, stored         []byte
	}{
		{"wrong code", "sms-signature", "042914", key, stored},
		{"code without leading zero", "sms-signature", "42913", key, stored},
		{"code with space", "sms-signature", "042913 ", key, stored},
		{"other purpose", "authorizer-confirm", "042913", key, stored},
		{"other key", "sms-signature", "042913", []byte("another key"), stored},
		{"truncated hash", "sms-signature", "042913", key, stored[:16]},
		{"no hash", "sms-signature", "042913", key, nil},
	} {
		if CodeEqual(tc.key, tc.purpose, tc.code, tc.stored) {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// The separator keeps purpose and code apart.
	if bytes.Equal(HashCode(key, "a", "bc"), HashCode(key, "ab", "c")) {
		t.Error("purpose and code run into each other")
	}
}

func TestCoolingOff(t *testing.T) {
	for _, tc := range []struct {
		lockouts int
		want     time.Duration
	}{
		{-1, 0}, {0, 0}, {1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute},
		{6, 32 * time.Minute}, {7, time.Hour}, {8, time.Hour}, {1000, time.Hour},
		{math.MaxInt, time.Hour},
	} {
		if got := CoolingOff(tc.lockouts); got != tc.want {
			t.Errorf("CoolingOff(%d) = %v, want %v", tc.lockouts, got, tc.want)
		}
	}
}
