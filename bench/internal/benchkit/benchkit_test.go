package benchkit

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	xs := []float64{5, 1, 3}
	if got := Median(xs); got != 3 {
		t.Errorf("Median(%v) = %v, want 3", xs, got)
	}
	if xs[0] != 5 || xs[1] != 1 {
		t.Errorf("Median reordered its argument: %v", xs)
	}
	if got := Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("Median of an even number = %v, want 2.5", got)
	}
	if got := Median([]time.Duration{3 * time.Second, time.Second}); got != 2*time.Second {
		t.Errorf("Median of durations = %v, want 2s", got)
	}
}

func TestProcessCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	before := ProcessCPU(os.Getpid())
	x := 0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		x++
	}
	if after := ProcessCPU(os.Getpid()); after <= before {
		t.Errorf("ProcessCPU did not grow over 100 ms of spinning: %v then %v", before, after)
	}
	if got := ProcessCPU(-1); got != 0 {
		t.Errorf("ProcessCPU(-1) = %v, want 0", got)
	}
}

func TestLoadAverage(t *testing.T) {
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		t.Skip("no /proc")
	}
	if got := LoadAverage(); !regexp.MustCompile(`^[0-9.]+ [0-9.]+ [0-9.]+$`).MatchString(got) {
		t.Errorf("LoadAverage() = %q, want three numbers", got)
	}
}

func TestOutputError(t *testing.T) {
	_, err := Output(nil, "/bin/sh", "-c", "echo broken >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "selo -c echo broken") || !strings.HasSuffix(err.Error(), "broken\n") {
		t.Errorf("Output error = %v, want the subcommand and its standard error", err)
	}
}

func TestSMSCode(t *testing.T) {
	for text, want := range map[string]string{
		"Selo: your code is 483920. It expires in 5 minutes.": "483920",
		"Code 12345678, valid 5 min":                          "12345678",
		"Call +351 12345 about order 99":                      "",
	} {
		if got := SMSCode(text); got != want {
			t.Errorf("SMSCode(%q) = %q, want %q", text, got, want)
		}
	}
}
