#!/usr/bin/env bash
# The API's contract: schemathesis, every check and every phase (examples, coverage, fuzzing,
# stateful), against `timeline serve --demo` started here on the embedded defaults, from the
# OpenAPI document the server itself serves. Settings: tests/contract/schemathesis.toml; hooks
# (the API key, the check that a refusal names a documented rule): tests/contract/hooks.py.
#
# The seed and the reports (JUnit, NDJSON events, HAR of every exchange) are kept in
# $CONTRACT_REPORT_DIR (default artifacts/contract): a failure is replayed with the same seed,
# CONTRACT_SEED=<seed> make contract, or from the HAR.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
REPORTS=$(realpath -m "${CONTRACT_REPORT_DIR:-artifacts/contract}")
SEED=${CONTRACT_SEED:-20261207}
KEY=contract-admin-key
PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOME_DIR=$(mktemp -d -t timeline-contract.XXXXXX)
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
echo "$SEED" > "$REPORTS/seed"

# A service of its own (its data, embedded Redis), with the demo, no rate limit (the run is one
# client sending thousands of requests) and webhooks allowed to local addresses.
(
  cd "$HOME_DIR"
  unset TIMELINE_REDIS_URL TIMELINE_DATABASE_URL TIMELINE_VIEWS_URL
  TIMELINE_API_KEYS="admin:$KEY" TIMELINE_RATE_LIMIT=off TIMELINE_WEBHOOK_ALLOW_PRIVATE=yes \
    exec "$OLDPWD/$BIN/timeline" serve --demo --port "$PORT" --web-workers 2 --workers 1
) > "$REPORTS/serve.log" 2>&1 &
SERVER=$!
stop() {
  kill -TERM "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$HOME_DIR"
}
trap stop EXIT

for _ in $(seq 120); do
  curl -fsS "http://127.0.0.1:$PORT/api/v1/ready" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$REPORTS/serve.log"; exit 1; }
  sleep 0.5
done

CONTRACT_API_KEY=$KEY SCHEMATHESIS_HOOKS=tests/contract/hooks.py \
  "$BIN/schemathesis" --config-file tests/contract/schemathesis.toml run \
  "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --checks all,refused_only_for_documented_rules \
  --phases examples,coverage,fuzzing,stateful \
  --seed "$SEED" --workers 1 --no-color \
  --report junit,ndjson,har --report-dir "$REPORTS" \
  | tee "$REPORTS/summary.txt"
