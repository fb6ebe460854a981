#!/usr/bin/env bash
# End-to-end check of gpu-runner on this host (run it on a GPU machine):
# starts a private nats-server and the runner, submits jobs/gpu_probe.py asking for
# GPUS GPUs (default 1), and prints the job.finished event. Exit 0 = the job succeeded.
#   GPUS=2 scripts/gpu-check.sh
# Needs: node + `pnpm install` done, python3, nats-server (NATS_SERVER_BIN, PATH or /usr/sbin).
set -euo pipefail
cd "$(dirname "$0")/.."
GPUS="${GPUS:-1}"
TIMEOUT_SEC="${TIMEOUT_SEC:-300}"
nats_bin="${NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
[ -x "$nats_bin" ] || { echo "nats-server not found: install it (apt-get install nats-server) or set NATS_SERVER_BIN" >&2; exit 3; }
command -v nvidia-smi >/dev/null || echo "note: nvidia-smi is not on PATH; the runner will treat this host as CPU-only" >&2

work="$(mktemp -d)"
nats_pid="" runner_pid=""
cleanup() {
  local status=$?
  set +e
  if [ -n "$runner_pid" ]; then kill "$runner_pid" 2>/dev/null; wait "$runner_pid" 2>/dev/null; fi
  if [ -n "$nats_pid" ]; then kill "$nats_pid" 2>/dev/null; wait "$nats_pid" 2>/dev/null; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$nats_bin" -a 127.0.0.1 -p "$port" -js -sd "$work/nats" >"$work/nats.log" 2>&1 &
nats_pid=$!
for _ in $(seq 100); do grep -qs "Server is ready" "$work/nats.log" && break; sleep 0.1; done
grep -qs "Server is ready" "$work/nats.log" || { cat "$work/nats.log" >&2; exit 3; }
export NATS_URL="nats://127.0.0.1:$port"

RUNNER_ID="gpu-check-$(hostname | tr -c 'A-Za-z0-9_.\n-' '-')" MLLEAD_JOBS_DIR="$work/jobs" LOG_LEVEL=info \
  node --import tsx services/gpu-runner/src/main.ts >"$work/runner.log" 2>&1 &
runner_pid=$!
for _ in $(seq 300); do grep -qs "gpu-runner ready" "$work/runner.log" && break; sleep 0.1; done
grep -qs "gpu-runner ready" "$work/runner.log" || { echo "runner did not start:" >&2; cat "$work/runner.log" >&2; exit 3; }
grep -E '"msg":"(GPU host|CPU-only host)"' "$work/runner.log" >&2 || true

rc=0
node --import tsx scripts/gpu-check-submit.ts "$GPUS" "$TIMEOUT_SEC" || rc=$?
if [ "$rc" -ne 0 ]; then echo "--- runner log (last 40 lines) ---" >&2; tail -n 40 "$work/runner.log" >&2; fi
exit "$rc"
