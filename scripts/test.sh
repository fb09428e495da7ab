#!/usr/bin/env bash
# Selo's test command: formatting, vet, the whole test suite (with the race
# detector where cgo is available), then every fuzz target for a short time.
#   FUZZTIME=10s   how long each fuzz target runs (0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}

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
			# failed and none is written. Run such a target once more; a real
			# failure (an input written to testdata/fuzz) fails at once.
			if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir" 2>&1); then
				echo "$out"
				if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
					echo "-- $dir $target: the fuzzer timed out at its deadline without a failing input; running it once more"
					go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir"
				else
					exit 1
				fi
			else
				echo "$out" | tail -n 3
			fi
		done
	done
fi
echo "== all checks passed"
