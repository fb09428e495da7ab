// Command soak runs Selo the way a provider does for years, compressed: two
// `api` replicas, one `ocsp` replica and two `worker` replicas of
// `selo serve` over one PostgreSQL database, under a mixed load (issuance,
// revocation, OCSP, CSC sendOTP + authorize + signHash), while a random
// replica is killed with SIGKILL every -kill-every and started again (each
// replica once per cycle of five kills, so the worker that leads dies too).
//
// At the end it stops the load and checks what a QTSP's auditor would ask:
//
//   - every issuance acknowledged to a client is in the store, and no serial
//     is there twice (each row's serial is its certificate's);
//   - every acknowledged revocation is "revoked" in OCSP and on the next CRL;
//   - no SAD signed twice (each one is offered again to the other API
//     replica right after its signHash, and must be refused);
//   - `selo audit verify` passes;
//   - no client call failed outside the kill windows (a kill window runs
//     from the SIGKILL until the replica answers again, plus -grace).
//
// It prints those counts and exits 1 when one of them is wrong.
//
//	go run ./bench/soak -database 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=soak' -duration 10m
//
// The schema named by search_path must exist and be empty (the program does
// not drop anything). A short form runs in CI as TestSoakShort.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "selo", "", "selo binary (default: go build ./cmd/selo into a temporary directory)")
	flag.StringVar(&cfg.database, "database", "", "PostgreSQL URL of an empty schema (required: replicas share one database)")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.DurationVar(&cfg.killEvery, "kill-every", 30*time.Second, "how often a random replica is killed with SIGKILL (0: never)")
	flag.DurationVar(&cfg.grace, "grace", time.Second, "how long after a killed replica answers again its clients' errors still count as the kill's")
	flag.DurationVar(&cfg.workerInterval, "worker-interval", 2*time.Second, "the workers' --worker-interval")
	flag.IntVar(&cfg.signers, "signers", 4, "concurrent CSC signers (each with its own SMS credential)")
	flag.IntVar(&cfg.issuers, "issuers", 4, "concurrent issuance clients")
	flag.Parse()
	if cfg.database == "" {
		fmt.Fprintln(os.Stderr, "soak: -database is required (the replicas share one PostgreSQL database)")
		os.Exit(2)
	}
	rep, err := run(cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if problems := rep.problems(); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "soak: FAILED:", p)
		}
		os.Exit(1)
	}
	fmt.Println("soak: every check passed")
}
