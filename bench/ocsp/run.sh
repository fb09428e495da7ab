#!/usr/bin/env bash
# OCSP GET throughput, side by side on this machine with wrk on loopback:
#   1. selo serve --roles ocsp        (Selo's responder, pre-signed responses)
#   2. a plain Go handler returning the same bytes from memory (the ceiling)
#   3. openssl ocsp -index ... -port  (OpenSSL's responder, signs every answer)
# and prints Selo's throughput as a ratio of each. Target: >= 80% of the ceiling.
# It measures one identical request repeated (the request-bytes cache hit),
# each server once, always in that order: see go run ./bench/ocsp for the
# alternated rounds and the request mix relying parties really send.
#
#   bash bench/ocsp/run.sh                 # SQLite
#   DATABASE=postgres://... bash bench/ocsp/run.sh
# Settings: DURATION (default 15s), CONNECTIONS (default 64), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=${DURATION:-15s}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
for tool in wrk openssl curl; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install -y wrk openssl curl)"; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	# openssl ocsp -multi forks workers that outlive their parent, spinning.
	pkill -f "openssl ocsp -index $work/" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "building..."
go build -o "$work/selo" ./cmd/selo
go build -o "$work/ceiling" ./bench/ocsp/ceiling

selo_port=18181 ceiling_port=18182 openssl_port=18183
export SELO_DATA="$work/data"
db_args=()
if [ -n "${DATABASE:-}" ]; then db_args=(--database "$DATABASE"); fi
"$work/selo" init "${db_args[@]}" --base-url "http://127.0.0.1:$selo_port" >"$work/init.log" 2>&1

# One TLS certificate to ask about, from a CSR the holder made.
printf 'benchmark-password\n' >"$work/pw"
"$work/selo" csr new --cn www.example.com --san www.example.com --key-type ecdsa-p256 \
	--password-file "$work/pw" --key-out "$work/leaf.key" --out "$work/leaf.csr" >/dev/null 2>&1
"$work/selo" "${db_args[@]}" cert issue --profile tls-server --csr "$work/leaf.csr" --out "$work/leaf.pem" 2>"$work/issue.log" || { cat "$work/issue.log"; exit 1; }
"$work/selo" "${db_args[@]}" ca chain tls-rsa-v1 --format pem --out "$work/chain.pem" 2>/dev/null ||
	"$work/selo" "${db_args[@]}" ca chain tls-rsa-v1 --format pem >"$work/chain.pem"
openssl x509 -in "$work/chain.pem" -out "$work/ca.pem"                        # first: the issuing CA
awk '/BEGIN/{n++} n==2' "$work/chain.pem" >"$work/root.pem"                     # second: the root

"$work/selo" "${db_args[@]}" serve --roles ocsp,worker --listen "127.0.0.1:$selo_port" --log-level warn >"$work/selo.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$selo_port/healthz" >/dev/null && break; sleep 0.2; done

# The request, as an RFC 5019 GET URL.
openssl ocsp -issuer "$work/ca.pem" -cert "$work/leaf.pem" -no_nonce -reqout "$work/req.der" >/dev/null
b64=$(base64 -w0 "$work/req.der" | sed -e 's/+/%2B/g' -e 's/\//%2F/g' -e 's/=/%3D/g')
path="/ocsp/$b64"
curl -sf "http://127.0.0.1:$selo_port$path" -o "$work/resp.der"
openssl ocsp -respin "$work/resp.der" -issuer "$work/ca.pem" -cert "$work/leaf.pem" -CAfile "$work/root.pem" 2>&1 | grep -q ': good' ||
	{ echo "bench: Selo's response does not verify as good"; exit 1; }

"$work/ceiling" -response "$work/resp.der" -listen "127.0.0.1:$ceiling_port" &
pids+=($!)

# OpenSSL's responder over the same CA and certificate, with an ECDSA P-256
# responder key (self-signed here: wrk does not verify, and OpenSSL cannot use
# the CA key sealed in Selo's key store). Selo's delegated responder for this
# RSA TLS CA has an RSA 2048 key (ECDSA P-256 under ECDSA CAs), so OpenSSL
# signs with the cheaper key. OpenSSL's responder also answers HTTP/1.0 and
# closes every connection: part of the gap is TCP handshakes. For a fair
# comparison (alternated rounds, a request mix over 100,000 certificates, a
# keep-alive Go peer serving the same pre-signed bytes) run go run ./bench/ocsp.
serial=$(openssl x509 -in "$work/leaf.pem" -noout -serial | cut -d= -f2)
enddate=$(date -u -d "$(openssl x509 -in "$work/leaf.pem" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t%s\tunknown\t/CN=www.example.com\n' "$enddate" "$serial" >"$work/index.txt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench OCSP responder" \
	-days 2 -keyout "$work/rkey.pem" -out "$work/rsigner.pem" >/dev/null 2>&1
openssl ocsp -index "$work/index.txt" -CA "$work/ca.pem" -rsigner "$work/rsigner.pem" -rkey "$work/rkey.pem" \
	-port "$openssl_port" -multi "$(nproc)" -nmin 60 >"$work/openssl.log" 2>&1 &
pids+=($!)
sleep 1
kill -0 "${pids[-1]}" 2>/dev/null || { echo "bench: openssl ocsp did not start:"; cat "$work/openssl.log"; }
curl -sf "http://127.0.0.1:$ceiling_port$path" -o /dev/null
# OpenSSL's responder takes the GET form at the root path.
openssl_path="/$b64"
curl -sf "http://127.0.0.1:$openssl_port$openssl_path" -o /dev/null || echo "note: OpenSSL's responder did not answer the GET form"

run() { # name port path -> requests/s
	local out
	out=$(wrk -t "$threads" -c "$connections" -d "$duration" --latency "http://127.0.0.1:$2$3")
	echo "$out" >"$work/wrk-$1.txt"
	echo "$out" | awk '/Requests\/sec/ {print $2}'
}
echo "wrk: $threads threads, $connections connections, $duration each, $(nproc) cores, database $([ -n "${DATABASE:-}" ] && echo postgresql || echo sqlite)"
ceiling=$(run ceiling $ceiling_port "$path")
selo=$(run selo $selo_port "$path")
ossl=$(run openssl $openssl_port "$openssl_path")
non2xx=$(grep -h "Non-2xx" "$work"/wrk-selo.txt || true)
printf '%-44s %12s req/s\n' "plain Go handler, same bytes (ceiling)" "$ceiling"
printf '%-44s %12s req/s %s\n' "selo serve --roles ocsp" "$selo" "$non2xx"
printf '%-44s %12s req/s\n' "openssl ocsp -index (-multi $(nproc))" "$ossl"
awk -v s="$selo" -v c="$ceiling" -v o="$ossl" 'BEGIN {
	printf "selo / ceiling: %.1f%% (target >= 80%%)\n", 100*s/c
	if (o > 0) printf "selo / openssl: %.2fx\n", s/o
}'
grep -h "Latency " "$work"/wrk-*.txt >/dev/null || true
