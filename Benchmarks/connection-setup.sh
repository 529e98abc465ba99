#!/usr/bin/env bash
# Loopback connection set-up rate (TCP + Noise + yamux + one ping round trip), sd-pair against py-libp2p doing the
# same against itself, in one run; prints the ratio. Needs py-libp2p (pip install libp2p==0.8.1).
#   Benchmarks/connection-setup.sh [sd-pair connections] [py-libp2p connections]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="/opt/swift/usr/bin:$PATH"
ours="${1:-500}"
theirs="${2:-20}"

# One product per call: given several, swift build builds only the last.
swift build -c release --product sd-pair >&2
swift build -c release --product connection-bench >&2
state="$(mktemp -d)"
log="$state/listener.out"
.build/release/sd-pair invite --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht --state-dir "$state/agent" --expiry 600 >"$log" 2>/dev/null &
listener=$!
trap 'kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 50); do grep -q '^LISTEN ' "$log" && break; sleep 0.1; done
address="$(grep -m1 '^LISTEN ' "$log" | cut -d' ' -f2)"

sd="$(.build/release/connection-bench "$address" "$ours" | tee /dev/stderr | sed -n 's/^connections\/s: //p')"
py="$(python3 Benchmarks/py_connection_setup.py "$theirs" | tee /dev/stderr | sed -n 's/^connections\/s: //p')"
python3 -c "import sys; s, p = float(sys.argv[1]), float(sys.argv[2]); print('ratio sd-pair / py-libp2p: %.1fx (goal >= 20x)' % (s / p))" "$sd" "$py"
