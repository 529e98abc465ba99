# Shared by the lab benchmarks (sourced): a scratch directory, the avahi lab's script and directory, the PIDs the benchmark
# starts (ended by PID on exit, with the lab), and two helpers.
#
#   . "$root/Benchmarks/lab-bench.sh" <scratch name prefix>
work="$(mktemp -d "/tmp/$1-XXXXXX")"
lab="$root/Tests/Fixtures/avahi-lab.sh"
# The lab's namespaces are named after its directory's name: the scratch directory's random suffix keeps two runs
# (or a run and the test suite) apart.
labdir="$work/lab${work##*-}"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  "$lab" down "$labdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
