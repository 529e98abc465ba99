#!/usr/bin/env bash
# Footprint report: stripped size and dynamic dependencies of the x86_64, aarch64 and armv7 Embedded builds, and
# peak RSS (VmHWM, via GNU time) of the native Embedded build: process floor, `invite` through one full pairing,
# and `serve` idle for FOOTPRINT_IDLE_SECONDS (default 600). RSS is measured natively: under qemu-user it would
# include the emulator. Needs root (ARM sysroots) and the time package.
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

# One full pairing (recorded in the registry): the measured build invites, the Embedded build joins.
pair() {
  local binary="$1" out="$2" dir="$state/$(basename "$2")"
  /usr/bin/time -f "maxrss-kib: %M" -o "$out" "$binary" invite --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht \
    --state-dir "$dir.a" >"$dir.out" 2>/dev/null &
  local inviter=$!
  for _ in $(seq 100); do grep -q '^CODE: ' "$dir.out" && break; sleep 0.05; done
  "$native" join "$(grep -m1 '^CODE: ' "$dir.out" | cut -d' ' -f2-)" --peer "$(grep -m1 '^LISTEN ' "$dir.out" | cut -d' ' -f2)" \
    --state-dir "$dir.b" >/dev/null
  wait "$inviter"
}
pair "$native" "$state/pair"
swift build -c release --product sd-pair >/dev/null 2>&1
pair "$root/.build/release/sd-pair" "$state/pair-host"

# The idle daemon: `serve` with no window open and nobody connecting, for FOOTPRINT_IDLE_SECONDS. Just before the
# end, its RSS is split into private (anonymous) memory and file-backed pages (libc, libsodium, the loader, our
# text: shared with every other process on the board).
/usr/bin/time -f "maxrss-kib: %M" -o "$state/idle" "$native" serve --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht \
  --state-dir "$state/c" --window-at-start never >/dev/null 2>&1 &
timer=$!
sleep 1
agent="$(pgrep -P "$timer" | head -n 1)"
sleep $(( idle > 2 ? idle - 1 : 1 ))
anon="$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$agent/status" 2>/dev/null)"
file="$(sed -n 's/^RssFile:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$agent/status" 2>/dev/null)"
kill -TERM "$agent"
wait "$timer" || true

echo
echo "| native Embedded x86_64, peak RSS (VmHWM) | KiB |"
echo "|---|---|"
echo "| process floor (sd-pair --version: libc + libsodium) | $(peak "$state/floor") |"
echo "| invite through one full pairing | $(peak "$state/pair") |"
echo "| (host release build, not Embedded: invite through one full pairing) | $(peak "$state/pair-host") |"
echo "| serve, idle for ${idle} s | $(peak "$state/idle") |"
echo "| of which, at the end of the idle period: private (RssAnon) / file-backed shared pages (RssFile) | ${anon:-?} / ${file:-?} |"
