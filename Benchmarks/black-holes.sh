#!/usr/bin/env bash
# Dead addresses ahead of the live one: the NAS (host A of the avahi lab) has five more addresses whose TCP port
# 4801 drops new connections (an nftables rule in its namespace), put ahead of its live address on the interface,
# listens on all of them (/ip4/0.0.0.0/tcp/4801) and advertises them in that order through a py-libp2p DHT node on
# the LAN; the joiner (host B) finds the record and dials. Prints, per build and run, the seconds from the joiner's first dial to its PAIRED line, then
# the median per build — so two builds (before and after a change) are compared in one run on one machine.
#
#   Benchmarks/black-holes.sh [--runs N] [sd-pair binary…]   (default: 3 runs of .build/release/sd-pair; needs
#                                                             root, avahi-daemon, dbus, nft, py-libp2p)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) bins+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift ;;
  esac
done
if [ ${#bins[@]} -eq 0 ]; then
  swift build -c release --package-path "$root" --product sd-pair >&2
  bins=("$root/.build/release/sd-pair")
fi
# shellcheck source=lab-bench.sh
. "$root/Benchmarks/lab-bench.sh" sdp-holes
# Waits (≤ 30 s) for a line matching $2 in file $1.
wait_for() { for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

"$lab" up "$labdir" >&2
"$lab" run "$labdir" A /bin/sh -c '
  sysctl -qw net.ipv4.conf.vethA.promote_secondaries=1
  for k in 11 12 13 14 15; do ip addr add 10.77.0.$k/24 dev vethA; done
  ip addr del 10.77.0.1/24 dev vethA && ip addr add 10.77.0.1/24 dev vethA   # the live address last
  nft add table inet blackhole
  nft add chain inet blackhole input "{ type filter hook input priority filter; }"
  nft add rule inet blackhole input ip daddr 10.77.0.11-10.77.0.15 tcp dport 4801 drop'
"$lab" run "$labdir" A python3 "$root/Tests/Fixtures/py_dht.py" node --ip 10.77.0.1 --timeout 3600 >"$work/node.out" 2>&1 &
pids+=("$!")
wait_for "$work/node.out" '^READY' || { echo "DHT node did not start" >&2; exit 1; }
node="$(sed -n 's/^LISTEN //p' "$work/node.out" | head -1)"

for bin in "${bins[@]}"; do
  : >"$work/times"
  for n in $(seq 1 "$runs"); do
    a="$work/a$n" b="$work/b$n"
    "$lab" run "$labdir" A "$bin" invite --no-mdns --no-port-mapping --dht-bootstrap "$node" --state-dir "$a" --name "Bench NAS" \
      --expiry 120 --listen /ip4/0.0.0.0/tcp/4801 >"$a.out" 2>"$a.err" &
    inv=$!
    pids+=("$inv")
    wait_for "$a.err" 'DHT: advertisement stored' || { echo "invite did not publish" >&2; cat "$a.err" >&2; exit 1; }
    words="$(sed -n 's/^CODE: //p' "$a.out")"
    # Each stderr line stamped with the time it arrived (ms since the epoch).
    "$lab" run "$labdir" B "$bin" join "$words" --no-mdns --dht-bootstrap "$node" --state-dir "$b" --expiry 120 2>&1 \
      | while IFS= read -r line; do echo "$(date +%s%3N) $line"; done >"$b.log" || true
    first="$(grep -m1 ' sd-pair: trying ' "$b.log" | cut -d' ' -f1 || true)"
    paired="$(grep -m1 ' PAIRED ' "$b.log" | cut -d' ' -f1 || true)"
    kill "$inv" 2>/dev/null || true
    wait "$inv" 2>/dev/null || true
    if [ -z "$first" ] || [ -z "$paired" ]; then
      echo "$bin run $n: did not pair within its 120 s window ($(grep -c ' sd-pair: trying ' "$b.log" || true) dial(s); $(grep -m1 -o 'summary: .*' "$b.log" || true))"
      continue
    fi
    s="$(awk -v a="$first" -v b="$paired" 'BEGIN {printf "%.2f", (b - a) / 1000}')"
    echo "$s" >>"$work/times"
    echo "$bin run $n: paired ${s} s after the first dial"
  done
  echo "median: $( [ -s "$work/times" ] && median <"$work/times" || echo "-") s  ($bin, $(wc -l <"$work/times") of $runs runs paired)"
done
