#!/usr/bin/env bash
# Footprint report: stripped size and dynamic dependencies of the x86_64, aarch64 and armv7 Embedded builds, and
# peak RSS (VmHWM, via GNU time) of the native Embedded build: idle floor, through one full pairing, and through an
# idle pairing window of FOOTPRINT_IDLE_SECONDS (default 600; `serve` does not exist yet, so the idle agent is an
# `invite` whose window stays open that long). RSS is measured natively: under qemu-user it would include the
# emulator. Needs root (ARM sysroots) and the time package.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
idle="${FOOTPRINT_IDLE_SECONDS:-600}"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null

echo "| target | stripped size | dynamic dependencies (readelf -d NEEDED) |"
echo "|---|---|---|"
for arch in x86_64 aarch64 armv7; do
  bin="$(cross/build-embedded.sh "$arch" 2>/dev/null | tail -n 1)"
  [ "$arch" = x86_64 ] && native="$bin"
  stripped="$(mktemp)"
  /opt/swift/usr/bin/llvm-objcopy --strip-all "$bin" "$stripped"
  size="$(stat -c %s "$stripped")"
  rm -f "$stripped"
  needs="$(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
  echo "| $arch | $size bytes ($((size / 1024)) KiB) | $needs|"
done

state="$(mktemp -d)"
trap 'rm -rf "$state"' EXIT
peak() { sed -n 's/^maxrss-kib: //p' "$1"; }

/usr/bin/time -f "maxrss-kib: %M" -o "$state/floor" "$native" --version >/dev/null

# One full pairing: the Embedded build invites, the same build joins.
/usr/bin/time -f "maxrss-kib: %M" -o "$state/pair" "$native" invite --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht \
  --state-dir "$state/a" >"$state/invite.out" 2>/dev/null &
inviter=$!
for _ in $(seq 100); do grep -q '^CODE: ' "$state/invite.out" && break; sleep 0.05; done
address="$(grep -m1 '^LISTEN ' "$state/invite.out" | cut -d' ' -f2)"
words="$(grep -m1 '^CODE: ' "$state/invite.out" | cut -d' ' -f2-)"
"$native" join "$words" --peer "$address" --state-dir "$state/b" >/dev/null
wait "$inviter"

# An idle window: nobody connects until it expires.
expiry=$(( idle < 60 ? 60 : (idle > 600 ? 600 : idle) ))
/usr/bin/time -f "maxrss-kib: %M" -o "$state/idle" "$native" invite --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht \
  --state-dir "$state/c" --expiry "$expiry" >/dev/null 2>&1 || true

echo
echo "| native Embedded x86_64, peak RSS (VmHWM) | KiB |"
echo "|---|---|"
echo "| process floor (sd-pair --version: libc + libsodium) | $(peak "$state/floor") |"
echo "| invite through one full pairing | $(peak "$state/pair") |"
echo "| invite idle for ${expiry} s until its window expired | $(peak "$state/idle") |"
