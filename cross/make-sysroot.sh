#!/usr/bin/env bash
# Builds a Debian 12 sysroot for an ARM board from Debian packages (apt-get download + dpkg-deb -x), cached under
# cross/.cache/. Idempotent: an existing, complete sysroot is reused.
#
#   cross/make-sysroot.sh aarch64|armv7      prints the sysroot's path as its last line
set -euo pipefail
arch="${1:-}"
case "$arch" in
  aarch64) debarch=arm64 ;;
  armv7) debarch=armhf ;;
  *) echo "make-sysroot: give aarch64 or armv7" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/cross/.cache"
sysroot="$cache/sysroot-$debarch"
stamp="$sysroot/.complete"

# What the agent links (libc, libsodium, libavahi-client for discovery) and what those pull in; libqrencode-dev only
# for its header (`--qr` opens libqrencode at run time, so a board without it still runs the agent).
packages=(libc6 libc6-dev linux-libc-dev libgcc-12-dev libgcc-s1 libcrypt1 libcrypt-dev libsodium23 libsodium-dev
  libavahi-client-dev libavahi-client3 libavahi-common-dev libavahi-common3 libdbus-1-3 libsystemd0 liblzma5
  libzstd1 liblz4-1 libgcrypt20 libgpg-error0 libcap2 libqrencode-dev)
# The stamp holds the package list: a sysroot made from another list is made again.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${packages[*]}" ]; then echo "$sysroot"; exit 0; fi

if ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
  dpkg --add-architecture "$debarch"
  "$root/Scripts/apt-update"
fi
debs="$cache/debs-$debarch"
mkdir -p "$debs"
# Retried: a mirror mid-sync can serve an index whose packages are not all there yet.
for attempt in 1 2 3; do
  ( cd "$debs" && apt-get download -qq "${packages[@]/%/:$debarch}" >&2 ) && break
  [ "$attempt" -eq 3 ] && { echo "make-sysroot: cannot download the $debarch packages" >&2; exit 1; }
  sleep 10
  "$root/Scripts/apt-update"
done
rm -rf "$sysroot.tmp"
mkdir -p "$sysroot.tmp"
for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$sysroot.tmp"; done

# Absolute symlinks (libsodium.so -> /usr/lib/...) would send the linker to the host's libraries: make them relative.
find "$sysroot.tmp" -type l | while read -r link; do
  target="$(readlink "$link")"
  case "$target" in
    /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$sysroot.tmp$target")" "$link" ;;
  esac
done
rm -rf "$sysroot"
mv "$sysroot.tmp" "$sysroot"
echo "${packages[*]}" > "$stamp"
echo "make-sysroot: $debarch sysroot ready ($(du -sm "$sysroot" | cut -f1) MB)" >&2
echo "$sysroot"
