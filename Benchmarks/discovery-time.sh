#!/usr/bin/env bash
# Discover→paired time: from starting `join` (the code typed) to its PAIRED line, with the NAS's window already
# advertised. mDNS: two hosts in network namespaces with their own avahi-daemons (Tests/Fixtures/avahi-lab.sh);
# DHT: five py-libp2p Kademlia nodes on loopback (Tests/Fixtures/py_dht.py). Prints each run and the medians.
#
#   Benchmarks/discovery-time.sh [runs]      (default 20; needs root, avahi-daemon, dbus, py-libp2p)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-20}"
bin="$root/.build/release/sd-pair"
swift build -c release --package-path "$root" --product sd-pair >&2
# shellcheck source=lab-bench.sh
. "$root/Benchmarks/lab-bench.sh" sdp-bench

now_ms() { date +%s%3N; }

# Waits (≤ 20 s) for a line matching $2 in file $1.
wait_for() { for _ in $(seq 1 400); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

pair_once() {  # $1 = mdns|dht, $2 = run number; prints milliseconds
  local mode="$1" n="$2" a="$work/a$n" b="$work/b$n" inv words t0 t1
  if [ "$mode" = mdns ]; then
    "$lab" run "$labdir" A "$bin" invite --no-dht --state-dir "$a" --name "Bench NAS" --expiry 60 >"$a.out" 2>"$a.err" &
  else
    "$bin" invite --no-mdns --listen /ip4/127.0.0.1/tcp/0 --dht-bootstrap "$boot0" --state-dir "$a" --expiry 60 >"$a.out" 2>"$a.err" &
  fi
  inv=$!
  pids+=("$inv")
  wait_for "$a.out" '^CODE: ' || { echo "invite did not start" >&2; cat "$a.err" >&2; return 1; }
  if [ "$mode" = mdns ]; then wait_for "$a.err" 'mDNS: published'; else wait_for "$a.err" 'DHT: advertisement stored'; fi
  words="$(sed -n 's/^CODE: //p' "$a.out")"
  t0=$(now_ms)
  if [ "$mode" = mdns ]; then
    "$lab" run "$labdir" B "$bin" join "$words" --no-dht --state-dir "$b" --expiry 60 >"$b.out" 2>"$b.err"
  else
    "$bin" join "$words" --no-mdns --dht-bootstrap "$boot4" --state-dir "$b" --expiry 60 >"$b.out" 2>"$b.err"
  fi
  t1=$(now_ms)
  grep -q '^PAIRED ' "$b.out" || { echo "run $n did not pair" >&2; cat "$b.err" >&2; return 1; }
  wait "$inv" || true
  echo $((t1 - t0))
}

echo "== mDNS (two namespaces, real avahi-daemons), $runs runs"
"$lab" up "$labdir"
: >"$work/mdns"
for n in $(seq 1 "$runs"); do t=$(pair_once mdns "m$n"); echo "run $n: $t ms"; echo "$t" >>"$work/mdns"; done
echo "mDNS median discover→paired: $(median <"$work/mdns") ms"
"$lab" down "$labdir"

echo "== DHT (five py-libp2p Kademlia nodes on loopback), $runs runs"
python3 "$root/Tests/Fixtures/py_dht.py" node --timeout 600 >"$work/n0" 2>&1 &
pids+=("$!")
wait_for "$work/n0" '^READY'
boot0="$(sed -n 's/^LISTEN //p' "$work/n0" | head -n 1)"
for i in 1 2 3 4; do
  python3 "$root/Tests/Fixtures/py_dht.py" node --bootstrap "$boot0" --timeout 600 >"$work/n$i" 2>&1 &
  pids+=("$!")
done
for i in 1 2 3 4; do wait_for "$work/n$i" '^READY'; done
boot4="$(sed -n 's/^LISTEN //p' "$work/n4" | head -n 1)"
: >"$work/dht"
for n in $(seq 1 "$runs"); do t=$(pair_once dht "d$n"); echo "run $n: $t ms"; echo "$t" >>"$work/dht"; done
echo "DHT median discover→paired: $(median <"$work/dht") ms"
