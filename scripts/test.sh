#!/usr/bin/env bash
# Selo's test command: formatting, vet, the whole test suite (with the race
# detector where cgo is available), then every fuzz target for a short time.
#   FUZZTIME=10s   how long each fuzz target runs (0 skips fuzzing)
#   FUZZMINIMIZETIME=0
#                  how long the fuzzer shrinks each input that found new
#                  coverage (Go's -fuzzminimizetime; its default, 60s, spent
#                  a whole short run shrinking one input of a target whose
#                  seeds are signed documents: see docs/security.md, Fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
minimizetime=${FUZZMINIMIZETIME:-0}

echo "== gofmt"
unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

race=""
if [ "$(go env CGO_ENABLED)" = "1" ] && command -v gcc >/dev/null 2>&1; then
	race="-race"
else
	echo "note: no cgo toolchain; running without -race and without the PKCS#11 key store"
fi

echo "== go test $race"
go test $race -count=1 -timeout 30m ./...

if [ "$fuzztime" != "0" ]; then
	echo "== fuzz ($fuzztime each)"
	# Every FuzzXxx function in a _test.go file, with its package directory.
	grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
		dir=$(dirname "$file")
		for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
			echo "-- $dir $target"
			# Go's fuzzer sometimes ends a clean run with "context deadline
			# exceeded" as the time is up while a worker is busy: no input
			# failed and none is written. Such a run is tried again, up to
			# three times in all; a real failure (an input written to
			# testdata/fuzz, or any other error) fails at once.
			for attempt in 1 2 3; do
				if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$dir" 2>&1); then
					echo "$out" | tail -n 3
					break
				fi
				echo "$out"
				if [ "$attempt" = 3 ] || ! grep -q 'context deadline exceeded' <<<"$out" || grep -q 'Failing input written' <<<"$out"; then
					exit 1
				fi
				echo "-- $dir $target: the fuzzer stopped at its deadline without a failing input; running it again"
			done
		done
	done
fi
echo "== all checks passed"
