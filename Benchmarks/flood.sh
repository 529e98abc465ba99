#!/usr/bin/env bash
# Flood resistance (security review finding 6), measured as the review measured it: a real joiner 10 ms away (5 ms
# each way through Benchmarks/flood/delay_proxy.py) pairs with `sd-pair serve` while Benchmarks/flood/flood.py opens
# connections at a given rate, each from a new loopback source address, each sending the multistream header and
# "/noise" and then nothing. Prints, per rate, how many of the trials paired and how long each took.
#
#   Benchmarks/flood.sh [--bin <sd-pair binary>] [--trials N] [rate…]      (defaults: release build, 8, 100 200 500)
#
# Loopback only; every process it starts is stopped by PID; bounded: each flood lasts 30 s, each join 4 s at most.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.build/release/sd-pair"
trials=8
rates=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --trials) trials="$2"; shift 2 ;;
    *) rates+=("$1"); shift ;;
  esac
done
[ ${#rates[@]} -gt 0 ] || rates=(100 200 500)
[ -x "$bin" ] || { echo "flood: no binary at $bin (swift build -c release, or --bin)" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_for() {  # file, prefix: prints the rest of the first line starting with prefix (10 s at most)
  for _ in $(seq 1 200); do
    line="$(grep -m1 "^$2" "$1" 2>/dev/null || true)"
    [ -n "$line" ] && { echo "${line#"$2"}"; return 0; }
    sleep 0.05
  done
  return 1
}

"$bin" serve --state-dir "$work/nas" --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht --window-at-start never \
  > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
address="$(wait_for "$work/serve.out" "LISTEN ")"
wait_for "$work/serve.out" "READY " > /dev/null
port="$(echo "$address" | cut -d/ -f5)"
peer="$(echo "$address" | cut -d/ -f7)"
python3 "$root/Benchmarks/flood/delay_proxy.py" "$port" 5 > "$work/proxy.out" &
pids+=($!)
proxy="$(wait_for "$work/proxy.out" "PROXY ")"
echo "flood: $bin; joiner at 10 ms RTT through 127.0.0.1:$proxy; $trials trials per rate"

for rate in "${rates[@]}"; do
  python3 "$root/Benchmarks/flood/flood.py" "$port" "$rate" 30 > "$work/flood.out" 2>&1 &
  flood=$!
  pids+=($flood)
  sleep 2
  paired=0
  times=""
  for t in $(seq 1 "$trials"); do
    "$bin" invite --state-dir "$work/nas" > "$work/invite.out" 2> "$work/invite.err" &
    invite=$!
    words="$(wait_for "$work/invite.out" "CODE: " || true)"
    start=$(date +%s.%N)
    # The words as an argument (not `join -`): the same command line works for builds older than the stdin form.
    if [ -n "$words" ] && timeout 10 "$bin" join "$words" --peer "/ip4/127.0.0.1/tcp/$proxy/p2p/$peer" \
        --state-dir "$work/joiner-$rate-$t" --no-mdns --no-dht --handshake-timeout 4 > /dev/null 2> "$work/join.err"; then
      paired=$((paired + 1))
      times="$times $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5)"
    else
      times="$times fail"
    fi
    kill "$invite" 2>/dev/null || true
    wait "$invite" 2>/dev/null || true
  done
  wait "$flood" || true
  echo "rate $rate/s: $paired/$trials paired; seconds each:$times; $(cat "$work/flood.out")"
done
