#!/usr/bin/env bash
# Builds the Debian package of sd-pair for one architecture from its Embedded build and prints the .deb's path as
# the last line.
#
#   cross/package-deb.sh amd64|arm64|armhf [OUTDIR]      (default OUTDIR: .build-deb)
#
# Why debhelper's commands on a staged tree rather than dpkg-buildpackage: the binary is built by our own scripts
# (cross/build-embedded.sh, which for ARM uses a sysroot made from downloaded packages, not multiarch-installed
# build dependencies), so a debian/rules cross build would need arm64/armhf -dev packages installed that the build
# never uses. Everything that makes a package Debian-shaped still comes from the standard tools: dh_installsystemd
# (the unit and its maintainer-script snippets), dh_installman, dh_installdocs, dh_installchangelogs, dh_installdeb
# (/etc files become conffiles), dh_compress, dh_fixperms, dh_gencontrol, dh_md5sums, dh_builddeb, all run for the
# target architecture through dpkg-architecture. Only dh_shlibdeps is replaced, because it needs the target's
# libraries registered with dpkg: Depends is computed from the binary itself (its NEEDED libraries, mapped to
# packages through the build machine's shlibs files, which name the same packages on every architecture, and the
# newest GLIBC_ symbol version it uses).
#
# Version: Sources/sd-pair/CommandLineTool.swift (`static let version`), the one `sd-pair --version` prints.
set -euo pipefail

arch="${1:?usage: cross/package-deb.sh amd64|arm64|armhf [OUTDIR]}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${2:-$root/.build-deb}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
case "$arch" in
  amd64) embedded=x86_64 ;;
  arm64) embedded=aarch64 ;;
  armhf) embedded=armv7 ;;
  *) echo "package-deb: unknown architecture '$arch' (amd64, arm64 or armhf)" >&2; exit 2 ;;
esac
for tool in dh_installsystemd dpkg-architecture dpkg-deb readelf; do
  command -v "$tool" >/dev/null || { echo "package-deb: $tool is missing (apt-get install debhelper binutils)" >&2; exit 3; }
done

version="$(sed -n 's/^ *static let version = "\([^"]*\)".*/\1/p' "$root/Sources/sd-pair/CommandLineTool.swift")"
[ -n "$version" ] || { echo "package-deb: no version in Sources/sd-pair/CommandLineTool.swift" >&2; exit 1; }
version="${SDPAIR_DEB_VERSION:-$version}"  # tests build a later version to check upgrades

bin="$("$root/cross/build-embedded.sh" "$embedded" | tail -n 1)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
src="$work/sd-pair-$version"
mkdir -p "$src/debian" "$out"
cp "$root/Board/debian/"* "$src/debian/"
# The unit as Board/ has it, with the packaged binary's path.
# The docs are compressed in the package (policy 12.3), and the man pages are there: point the unit at both.
sed '/^# Install: /,/^# at \/etc\/sd-pair.conf/d; s|/usr/local/bin/sd-pair|/usr/bin/sd-pair|g
     s|^Documentation=.*|Documentation=man:sd-pair(1) man:sd-pair.conf(5) file:///usr/share/doc/sd-pair/OPERATIONS.md.gz|' \
  "$root/Board/sd-pair.service" >"$src/debian/sd-pair.service"
grep -q '^ExecStart=/usr/bin/sd-pair ' "$src/debian/sd-pair.service" || { echo "package-deb: the unit's ExecStart was not rewritten" >&2; exit 1; }
for page in sd-pair.1 sd-pair.conf.5; do sed "s/@VERSION@/$version/" "$root/Board/man/$page" >"$src/$page"; done
printf '%s\n' sd-pair.1 sd-pair.conf.5 >"$src/debian/sd-pair.manpages"
cp "$root/Docs/OPERATIONS.md" "$root/Docs/PROTOCOL.md" "$root/Docs/THREAT-MODEL.md" "$root/README.md" "$src/"
printf '%s\n' README.md OPERATIONS.md PROTOCOL.md THREAT-MODEL.md >"$src/debian/sd-pair.docs"
# A native package: its changelog is this version's entry, dated by the last commit (reproducible).
date="$(git -C "$root" log -1 --format=%cD 2>/dev/null || date -R)"
cat >"$src/debian/changelog" <<EOF
sd-pair ($version) unstable; urgency=medium

  * sd-pair $version: see /usr/share/doc/sd-pair/README.md.

 -- sd-pair maintainers <maintainers@sd-pair.invalid>  $date
EOF

pkg="$src/debian/sd-pair"
install -D -m 0755 "$bin" "$pkg/usr/bin/sd-pair"
/opt/swift/usr/bin/llvm-objcopy --strip-all "$pkg/usr/bin/sd-pair" 2>/dev/null || strip "$pkg/usr/bin/sd-pair"
# The example settings, with the name left to the host name (a packaged default must suit every board).
install -D -m 0644 "$root/Board/sd-pair.conf" "$pkg/etc/sd-pair.conf"
sed -i 's/^name = .*/# name = Living-room NAS/' "$pkg/etc/sd-pair.conf"
install -D -m 0644 "$root/Board/sd-pair.bash-completion" "$pkg/usr/share/bash-completion/completions/sd-pair"
install -D -m 0644 "$root/Board/sd-pair-display.conf" "$pkg/usr/share/doc/sd-pair/examples/sd-pair-display.conf"
install -D -m 0644 "$root/Board/lcd16x2-hook.sh" "$pkg/usr/share/doc/sd-pair/examples/lcd16x2-hook.sh"

# Depends: what the binary needs, computed.
depends=""
for lib in $(readelf -dW "$pkg/usr/bin/sd-pair" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  case "$lib" in
    libc.so.6|ld-linux*) continue ;;  # libc6, with its version below
  esac
  name="${lib%%.so.*}"
  soversion="${lib##*.so.}"
  entry="$(awk -v n="$name" -v v="$soversion" '$1 == n && $2 == v && !found { $1 = ""; $2 = ""; print; found = 1 }' /var/lib/dpkg/info/*.shlibs)"
  [ -n "$entry" ] || { echo "package-deb: no package found for $lib (install its -dev package on the build machine)" >&2; exit 1; }
  depends="$depends${depends:+, }$(echo "$entry" | sed 's/^ *//')"
done
glibc="$(readelf -VW "$pkg/usr/bin/sd-pair" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1)"
depends="libc6 (>= ${glibc:-2.36})${depends:+, }$depends"

cd "$src"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}" SOURCE_DATE_EPOCH="$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)"
dh() { dpkg-architecture -a"$arch" -f -c "$@"; }
dh dh_installsystemd
dh dh_installman
dh dh_installdocs
dh dh_installchangelogs

dh dh_installdeb
dh dh_compress
dh dh_fixperms
dh dh_gencontrol -- "-Vshlibs:Depends=$depends"
dh dh_md5sums
dh dh_builddeb --destdir="$out"
deb="$out/sd-pair_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "package-deb: dh_builddeb made no $deb" >&2; exit 1; }
echo "package-deb: $deb: Depends: $depends" >&2
echo "$deb"
