#!/usr/bin/env bash
# Soak: `sd-pair serve` under a memory cap through many pairing windows, one real pairing each.
#
#   Benchmarks/soak.sh [--windows N] [--agent PATH] [--driver PATH]     default: 10000 windows
#
# The agent is the Embedded build (what boards run; built by cross/build-embedded.sh unless --agent is given), the
# driver Tests/Soak (sd-pair-soak, a release build unless --driver). The cap, first that works here: systemd-run
# --scope -p MemoryMax=8M; a cgroup v2 or v1 memory cgroup of 8 MiB made for this run; else RLIMIT_AS (prlimit) at
# 64 MiB of address space. The script says which. Prints the driver's summary (RSS, fds, time per pairing) and
# exits non-zero if a goal is missed: 0 failures, RSS growth ≤ 64 KiB after the first 100 windows, fds flat, and
# the daemon alive at the end. Bounded: 10 s per window at most (the driver's timeouts), one daemon, cleaned up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="/opt/swift/usr/bin:$PATH"

windows=10000
agent=""
driver=""
while [ $# -gt 0 ]; do
  case "$1" in
    --windows) windows="$2"; shift 2 ;;
    --agent) agent="$2"; shift 2 ;;
    --driver) driver="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "soak: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$agent" ] || agent="$(cross/build-embedded.sh x86_64 | tail -n 1)"
if [ -z "$driver" ]; then
  swift build -c release --product sd-pair-soak >&2
  driver="$root/.build/release/sd-pair-soak"
fi

work="$(mktemp -d)"
pid=""
cgroup=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$cgroup" ] && [ -d "$cgroup" ]; then rmdir "$cgroup" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

serve=("$agent" serve --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht --state-dir "$work/nas" --name "Soak NAS" --window-at-start never)
cap=""
if systemd-run --scope -p MemoryMax=8M --quiet true >/dev/null 2>&1; then
  cap="systemd-run --scope -p MemoryMax=8M"
  systemd-run --scope -p MemoryMax=8M --quiet "${serve[@]}" >"$work/serve.out" 2>"$work/serve.err" &
  pid=$!
elif [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
  cgroup="/sys/fs/cgroup/sd-pair-soak-$$"
  mkdir "$cgroup" && echo 8M > "$cgroup/memory.max"
  cap="cgroup v2 memory.max = 8 MiB"
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroup" "${serve[@]}" >"$work/serve.out" 2>"$work/serve.err" &
  pid=$!
elif [ -d /sys/fs/cgroup/memory ] && mkdir "/sys/fs/cgroup/memory/sd-pair-soak-$$" 2>/dev/null; then
  cgroup="/sys/fs/cgroup/memory/sd-pair-soak-$$"
  echo $((8 * 1024 * 1024)) > "$cgroup/memory.limit_in_bytes"
  cap="cgroup v1 memory.limit_in_bytes = 8 MiB"
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cgroup" "${serve[@]}" >"$work/serve.out" 2>"$work/serve.err" &
  pid=$!
else
  cap="RLIMIT_AS = 64 MiB (no usable memory cgroup here)"
  prlimit --as=$((64 * 1024 * 1024)) -- "${serve[@]}" >"$work/serve.out" 2>"$work/serve.err" &
  pid=$!
fi
for _ in $(seq 100); do grep -q '^READY ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY ' "$work/serve.out" || { echo "soak: serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
address="$(grep -m1 '^LISTEN ' "$work/serve.out" | cut -d' ' -f2)"
echo "soak: $windows windows against $(basename "$agent") (pid $pid) under $cap"

status=0
"$driver" "$address" "$work/nas" "$pid" "$windows" "$work/joiner" || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "soak: FAILED: the daemon died (memory cap?)"; tail -5 "$work/serve.err"; status=1
fi
if [ -n "$cgroup" ] && [ -f "$cgroup/memory.max_usage_in_bytes" ]; then
  echo "soak: the cgroup's peak memory use: $(( $(cat "$cgroup/memory.max_usage_in_bytes") / 1024 )) KiB"
fi
[ "$(grep -c 'pairing window closed: paired' "$work/serve.err")" -ge "$windows" ] || { echo "soak: FAILED: the daemon logged fewer pairings than windows"; status=1; }
exit $status
