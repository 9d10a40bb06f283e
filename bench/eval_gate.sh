#!/usr/bin/env bash
# CI regression gate: run the demo golden set on a fresh (scratch) database and compare it with
# demo/golden/baseline.json. Exits 1 on a regression beyond tolerance, 2 on a usage/setup error.
#
#   bench/eval_gate.sh [extra `tether eval run` options, e.g. --fail-under compliance_failures=0]
#
# Environment: TETHER_DATA_DIR (embedded PostgreSQL; default: a temp dir) or TETHER_DATABASE_URL
# (a server where the runner may CREATE DATABASE). EVAL_OUT (default eval-run.json) keeps the run
# for `tether eval report`. Takes about 1-2 minutes on 2 cores (149 cases).
set -euo pipefail
cd "$(dirname "$0")/.."
TETHER="${TETHER:-.venv/bin/tether}"
[ -x "$TETHER" ] || TETHER=tether
if [ -z "${TETHER_DATABASE_URL:-}" ] && [ -z "${TETHER_DATA_DIR:-}" ]; then
    export TETHER_DATA_DIR="$(mktemp -d -t tether-eval-XXXXXX)"
    trap '"$TETHER" db stop >/dev/null 2>&1 || true; rm -rf "$TETHER_DATA_DIR"' EXIT
fi
start=$(date +%s)
set +e
"$TETHER" eval run demo/golden/golden.yaml --as-setup demo --scratch \
    --baseline demo/golden/baseline.json --fail-under compliance_failures=0 \
    --out "${EVAL_OUT:-eval-run.json}" "$@"
rc=$?
set -e
echo "eval gate: exit $rc after $(( $(date +%s) - start )) s" >&2
exit $rc
