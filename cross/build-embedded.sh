#!/usr/bin/env bash
# Builds sd-pair (with Wire, Crypto and Pairing) as Embedded Swift and prints the binary's path as the last line.
#
#   cross/build-embedded.sh [x86_64]      native Embedded build (the toolchain's x86_64-unknown-linux-gnu slice)
#   cross/build-embedded.sh aarch64       Raspberry Pi 3/4/5, most ARM NAS (cross/build-arm.sh: sysroot + SDK bundle)
#   cross/build-embedded.sh armv7         older Pi, Cortex-A7/A9 NAS, hard-float
#   cross/build-embedded.sh <arch> sdpair the C library libsdpair.so (Sources/SDPairC/include/sd_pair.h) instead
#
# Progress goes to stderr; stdout's last line is the binary's path: bin=$(cross/build-embedded.sh | tail -n 1).
set -euo pipefail

arch="${1:-x86_64}"
product="${2:-sd-pair}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
swift="${SWIFT:-swift}"

case "$product" in
  sd-pair) out=sd-pair; extra=() ;;
  # The C library (sd_pair.h): its exports are the C API only; -z defs makes an unresolved symbol fail the build.
  sdpair) out=libsdpair.so; extra=(-Xlinker "--version-script=$root/Sources/SDPairC/exports.map" -Xlinker -z -Xlinker defs) ;;
  *) echo "build-embedded: the product is sd-pair or sdpair" >&2; exit 2 ;;
esac

case "$arch" in
  x86_64) ;;
  aarch64|armv7)
    exec "$root/cross/build-arm.sh" "$arch" "$product" ;;
  -h|--help)
    sed -n '2,10p' "$0" >&2; exit 0 ;;
  *)
    echo "build-embedded: unknown architecture '$arch' (expected x86_64, aarch64 or armv7)" >&2
    exit 2 ;;
esac

scratch="$root/.build-embedded-$arch"
# Embedded mode: whole-module, size-optimised, each function in its own section so the linker can drop the unused;
# -z now (with the default RELRO) makes the whole GOT read-only after start, as Debian's hardening flags would.
"$swift" build -c release --package-path "$root" --scratch-path "$scratch" --product "$product" \
  -Xswiftc -enable-experimental-feature -Xswiftc Embedded -Xswiftc -wmo -Xswiftc -Osize \
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xlinker --gc-sections -Xlinker -z -Xlinker now ${extra[@]+"${extra[@]}"} >&2

bin="$scratch/release/$out"
[ -x "$bin" ] || { echo "build-embedded: no binary at $bin" >&2; exit 1; }

# An Embedded binary must not need the Swift runtime libraries; if it does, the build silently was not Embedded.
if readelf -d "$bin" | grep -q 'libswift'; then
  echo "build-embedded: $bin links a Swift runtime library: not an Embedded build" >&2
  readelf -d "$bin" | grep NEEDED >&2
  exit 1
fi

stripped="$(mktemp)"
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"
echo "build-embedded: $arch $out: $(stat -c %s "$bin") bytes, $(stat -c %s "$stripped") stripped; needs: $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')" >&2
echo "$bin"
