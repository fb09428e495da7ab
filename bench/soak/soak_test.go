package main

import (
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo/internal/testenv"
)

// TestSoakShort is the CI form of the soak: a short mixed load over five
// replicas with a SIGKILL every few seconds (each replica once, the worker
// leader among them), and every end-of-soak check
// (no acknowledged issuance or revocation lost, no serial twice, every
// revocation in OCSP and on the CRL, no SAD signed twice, the audit chain
// intact, no client error outside the kill windows).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five selo processes; skipped in -short")
	}
	dsn := testenv.PostgresDSN(t, "soak")
	bin := filepath.Join(t.TempDir(), "selo")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/selo").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out strings.Builder
	rep, err := run(config{
		bin: bin, database: dsn, duration: 28 * time.Second, killEvery: 4500 * time.Millisecond, grace: time.Second,
		workerInterval: time.Second, signers: 2, issuers: 2,
	}, io.MultiWriter(&out, testWriter{t}))
	if err != nil {
		t.Fatalf("soak: %v", err)
	}
	for _, p := range rep.problems() {
		t.Error(p)
	}
	kills := 0
	for _, n := range rep.Kills {
		kills += n
	}
	if kills < 5 || rep.WorkerTakeovers == 0 {
		t.Errorf("%d replicas killed in the run and %d worker takeovers, want every replica killed and the leader among them", kills, rep.WorkerTakeovers)
	}
	if rep.SADsReoffered == 0 {
		t.Error("no used SAD was offered again: the check of SAD reuse did not run")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
