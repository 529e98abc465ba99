#!/usr/bin/env bash
# Cross-builds sd-pair as Embedded Swift for an ARM board through a Swift SDK artifact bundle generated here
# (cross/.cache/sdks/, never committed) around a Debian sysroot (cross/make-sysroot.sh).
#
#   cross/build-arm.sh aarch64|armv7 [sdpair]   prints the built binary's path as its last line; with `sdpair`, the C
#                                               library libsdpair.so (sd_pair.h) instead of the command
set -euo pipefail
arch="${1:-}"
product="${2:-sd-pair}"
case "$product" in
  sd-pair) out=sd-pair; extra=() ;;
  # The library exports the C API only (exports.map); -z defs: an unresolved symbol fails here, not on the board.
  sdpair) out=libsdpair.so; extra=(-Xlinker "--version-script=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/Sources/SDPairC/exports.map" -Xlinker -z -Xlinker defs) ;;
  *) echo "build-arm: the product is sd-pair or sdpair" >&2; exit 2 ;;
esac
case "$arch" in
  aarch64) debarch=arm64; triple=aarch64-none-none-elf; gnu=aarch64-linux-gnu; cflags=() ;;
  armv7) debarch=armhf; triple=armv7-none-none-eabi; gnu=arm-linux-gnueabihf; cflags=(-mfloat-abi=hard) ;;
  *) echo "build-arm: give aarch64 or armv7" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"
sysroot="$("$root/cross/make-sysroot.sh" "$arch" | tail -n 1)"
sdks="$root/cross/.cache/sdks"
id="sd-pair-embedded-$arch"
bundle="$sdks/$id.artifactbundle"
variant="$bundle/$id"
mkdir -p "$variant"

json_list() { local first=1; printf '['; for a in "$@"; do [ $first = 1 ] || printf ', '; first=0; printf '"%s"' "$a"; done; printf ']'; }

# SDPAIR_BOARD: leave out what a board never runs (the in-memory demo, the crash test's writer).
swift_flags=(-enable-experimental-feature Embedded -wmo -Osize -Xfrontend -function-sections -D SDPAIR_BOARD
  -Xcc -D__linux__ -Xcc -D__unix__ -Xcc "-I$sysroot/usr/include/$gnu" -Xcc "-I$sysroot/usr/include")
for f in "${cflags[@]}"; do swift_flags+=(-Xcc "$f"); done
swift_flags+=(-Xclang-linker "--target=$gnu" -Xclang-linker "--sysroot=$sysroot" -Xclang-linker -fuse-ld=lld -Xclang-linker -Wl,--icf=all
  -Xclang-linker "-L$sysroot/usr/lib/$gnu" -Xclang-linker "-L$sysroot/lib/$gnu")
c_flags=(-D__linux__ -D__unix__ "--target=$gnu" "-I$sysroot/usr/include/$gnu" "-I$sysroot/usr/include" "${cflags[@]}")

cat > "$bundle/info.json" <<JSON
{
  "schemaVersion": "1.0",
  "artifacts": {
    "$id": {
      "type": "swiftSDK",
      "version": "1.0.0",
      "variants": [{ "path": "$id", "supportedTriples": ["x86_64-unknown-linux-gnu"] }]
    }
  }
}
JSON
cat > "$variant/swift-sdk.json" <<JSON
{
  "schemaVersion": "4.0",
  "targetTriples": {
    "$triple": { "sdkRootPath": "$sysroot", "toolsetPaths": ["toolset.json"] }
  }
}
JSON
cat > "$variant/toolset.json" <<JSON
{
  "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": $(json_list "${swift_flags[@]}") },
  "cCompiler": { "extraCLIOptions": $(json_list "${c_flags[@]}") },
  "linker": { "extraCLIOptions": ["--gc-sections", "-z", "max-page-size=16384", "-z", "now"] }
}
JSON

scratch="$root/.build-$arch"
swift build -c release --package-path "$root" --scratch-path "$scratch" --swift-sdks-path "$sdks" --swift-sdk "$id" \
  --product "$product" ${extra[@]+"${extra[@]}"} >&2
bin="$scratch/release/$out"
# For a triple without an OS, SwiftPM names a shared library lib<name>.elf; on the board it is a .so like any other.
[ "$product" = sd-pair ] || cp "$scratch/release/libsdpair.elf" "$bin"
[ -x "$bin" ] || bin="$(find "$scratch" -path "*release/$out" -type f | head -n 1)"
[ -x "$bin" ] || { echo "build-arm: no binary" >&2; exit 1; }
stripped="$(mktemp)"; trap 'rm -f "$stripped"' EXIT
/opt/swift/usr/bin/llvm-objcopy --strip-all "$bin" "$stripped"
echo "build-arm: $arch $out: $(stat -c %s "$stripped") bytes stripped; $(file -b "$bin" | cut -d, -f1-2); needs: $(readelf -d "$bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')" >&2
echo "$bin"
