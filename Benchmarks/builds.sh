#!/usr/bin/env bash
# Connection set-up and the pairing exchange, build against build: each build's own `sd-pair invite` listener dialled
# by its own `connection-bench` (TCP + Noise + yamux + a ping round trip, sequentially), and its `pairing-bench`, the
# builds taking turns for R rounds. Prints each build's median connections/s and pairing exchange time, then each later
# build's ratio to the first: a change to the agent's loop is compared with the build before it in one run.
#
#   Benchmarks/builds.sh [--rounds R] [--connections N] release-dir…   (each holding sd-pair, connection-bench,
#                                                                     pairing-bench; defaults: 7 rounds, 300)
set -euo pipefail
rounds=7
connections=300
dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[ ${#dirs[@]} -gt 0 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
python3 - "$rounds" "$connections" "${dirs[@]}" <<'PY'
import os, re, signal, statistics, subprocess, sys, tempfile, time
rounds, connections, dirs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
rates = {d: [] for d in dirs}
pairing = {d: [] for d in dirs}
for _ in range(rounds):
    for d in dirs:
        with tempfile.TemporaryDirectory() as state:
            listener = subprocess.Popen([f"{d}/sd-pair", "invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht",
                                         "--state-dir", f"{state}/agent", "--expiry", "600"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                address = None
                for _ in range(100):
                    line = listener.stdout.readline()
                    if line.startswith("LISTEN "):
                        address = line.split()[1]
                        break
                if address is None:
                    sys.exit(f"{d}: the listener did not start")
                out = subprocess.run([f"{d}/connection-bench", address, str(connections)], capture_output=True, text=True, timeout=300).stdout
                rates[d].append(float(re.search(r"connections/s: (\d+)", out).group(1)))
            finally:
                listener.send_signal(signal.SIGTERM)
                listener.wait(timeout=10)
        out = subprocess.run([f"{d}/pairing-bench"], capture_output=True, text=True, timeout=300).stdout
        m = re.search(r"pairing exchange[^:]*:\s+([0-9.]+) µs", out)
        if m:
            pairing[d].append(float(m.group(1)))
for d in dirs:
    p = f", pairing exchange {statistics.median(pairing[d]):.1f} µs" if pairing[d] else ""
    print(f"{d}: {statistics.median(rates[d]):.0f} connections/s (median of {rounds}: {sorted(rates[d])}){p}")
for d in dirs[1:]:
    print(f"ratio connections/s, {d} / {dirs[0]}: {statistics.median(rates[d]) / statistics.median(rates[dirs[0]]):.3f}")
    if pairing[d] and pairing[dirs[0]]:
        print(f"ratio pairing exchange time, {d} / {dirs[0]}: {statistics.median(pairing[d]) / statistics.median(pairing[dirs[0]]):.3f}")
PY
