#!/usr/bin/env bash
# The typo hints' cost, build against build: `code --words` on a code whose checksum fails (every word within two
# edits at each position tried, ranked by how many list words lie near) and on one with an unknown word (the closest
# words), minus the same command on the valid code (process start, the rest of parsing). Runs the builds in turn,
# N times each, and prints the median milliseconds of hint work per build and case, then each later build's ratio to
# the first — so a change to the wordlist or the parser is compared in one run on one machine. `--wrap` runs each
# binary through a command (e.g. "qemu-aarch64 -L <sysroot>" for a board build).
#
#   Benchmarks/typo-hints.sh [--runs N] [--wrap "CMD"] sd-pair-binary…   (default: 9 runs)
set -euo pipefail
runs=9
wrap=""
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --wrap) wrap="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
valid="legal winner thank year wave sausage worth useful legal winner thank yellow"
checksum="legal winner thank year wave sausage worth useful legal winner thank year"
unknown="legal winner thank year wave sausage worth useful legal winner thank yelow"
python3 - "$runs" "$wrap" "$valid" "$checksum" "$unknown" "${bins[@]}" <<'PY'
import shlex, statistics, subprocess, sys, time
runs, wrap, valid, checksum, unknown, bins = int(sys.argv[1]), shlex.split(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
cases = {"valid": valid, "checksum fixes": checksum, "unknown word": unknown}
times = {(b, c): [] for b in bins for c in cases}
for _ in range(runs):
    for c, words in cases.items():
        for b in bins:
            start = time.perf_counter()
            subprocess.run(wrap + [b, "code", "--words", words], capture_output=True, timeout=60)
            times[(b, c)].append(time.perf_counter() - start)
work = {}
for b in bins:
    base = statistics.median(times[(b, "valid")])
    for c in ("checksum fixes", "unknown word"):
        work[(b, c)] = statistics.median(times[(b, c)]) - base
        shown = f"{work[(b, c)] * 1000:.1f} ms of hint work" if work[(b, c)] > 0.0005 else "below the noise"
        print(f"{b}: {c}: {shown} (valid code: {base * 1000:.1f} ms)")
for b in bins[1:]:
    for c in ("checksum fixes", "unknown word"):
        if min(work[(b, c)], work[(bins[0], c)]) > 0.0005:
            print(f"ratio {c}, {b} / {bins[0]}: {work[(b, c)] / work[(bins[0], c)]:.2f}")
PY
