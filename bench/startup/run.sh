#!/bin/sh
# Start-up cost of two selo binaries (before and after a change) and pdfsig:
# `selo --help` (process start and package initialisation only) and
# `selo verify` of a one-page signed PDF, in alternated rounds (the order is
# swapped each round), with the load average before each round. Prints, per
# command and round, hyperfine's median, min and user+system CPU time, and
# the ratios new/old of the medians and of the CPU times.
#
#   go build -o /tmp/selo-old ./cmd/selo     # at the commit before
#   go build -o /tmp/selo-new ./cmd/selo     # at the commit after
#   bench/startup/run.sh /tmp/selo-old /tmp/selo-new [ROUNDS] [RUNS]
#
# Needs hyperfine, openssl and (for the reference row) pdfsig.
set -eu
old=$(realpath "$1") new=$(realpath "$2") rounds=${3:-3} runs=${4:-100}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

# A self-signed P-256 signer, a one-page PDF, signed by the new binary.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -out c.pem \
  -subj "/CN=Start-up Bench/C=PT" -days 30 -addext keyUsage=digitalSignature,nonRepudiation 2>/dev/null
echo startup-bench-pw >pw
openssl pkcs12 -export -inkey k.pem -in c.pem -out s.pfx -passout file:pw
printf '%%PDF-1.4\n' >doc.pdf
o1=$(wc -c <doc.pdf); printf '1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n' >>doc.pdf
o2=$(wc -c <doc.pdf); printf '2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n' >>doc.pdf
o3=$(wc -c <doc.pdf); printf '3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>\nendobj\n' >>doc.pdf
x=$(wc -c <doc.pdf)
printf 'xref\n0 4\n0000000000 65535 f\r\n%010d 00000 n\r\n%010d 00000 n\r\n%010d 00000 n\r\n' "$o1" "$o2" "$o3" >>doc.pdf
printf 'trailer\n<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n' "$x" >>doc.pdf
"$new" sign pdf doc.pdf signed.pdf --pfx s.pfx --password-file pw --data "$dir/data" >/dev/null

verify="verify signed.pdf --trust c.pem --data $dir/data"
ref=""
command -v pdfsig >/dev/null && ref="pdfsig signed.pdf"
round=1
while [ "$round" -le "$rounds" ]; do
  echo "round $round: $(uptime | sed 's/.*load/load/')"
  if [ $((round % 2)) = 1 ]; then
    hyperfine --warmup 5 -N -r "$runs" --export-csv "r$round.csv" -n old-help "$old --help" -n new-help "$new --help" \
      -n old-verify "$old $verify" -n new-verify "$new $verify" ${ref:+-n pdfsig "$ref"} >/dev/null 2>&1
  else
    hyperfine --warmup 5 -N -r "$runs" --export-csv "r$round.csv" -n new-help "$new --help" -n old-help "$old --help" \
      -n new-verify "$new $verify" -n old-verify "$old $verify" ${ref:+-n pdfsig "$ref"} >/dev/null 2>&1
  fi
  round=$((round + 1))
done
echo "after: $(uptime | sed 's/.*load/load/')"
echo
# hyperfine's CSV: command,mean,stddev,median,user,system,min,max (seconds).
awk -F, 'FNR > 1 {
    r = FILENAME; sub(/^r/, "", r); sub(/\.csv$/, "", r)
    med[$1, r] = $4 * 1000; cpu[$1, r] = ($5 + $6) * 1000; mn[$1, r] = $7 * 1000
    if (r > rounds) rounds = r
  }
  END {
    printf "%-11s %s\n", "command", "per round: median / min / user+sys CPU (ms)"
    n = split("old-help new-help old-verify new-verify pdfsig", cmds, " ")
    for (i = 1; i <= n; i++) {
      c = cmds[i]; if (!((c, 1) in med)) continue
      printf "%-11s", c
      for (r = 1; r <= rounds; r++) printf "  %6.1f / %5.1f / %5.1f", med[c, r], mn[c, r], cpu[c, r]
      printf "\n"
    }
    for (k = 1; k <= 2; k++) {
      w = (k == 1) ? "help" : "verify"
      printf "new/old %-6s", w
      for (r = 1; r <= rounds; r++) printf "  median %.2f, CPU %.2f;", med["new-" w, r] / med["old-" w, r], cpu["new-" w, r] / cpu["old-" w, r]
      printf "\n"
    }
  }' r*.csv
