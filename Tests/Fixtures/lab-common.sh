# Shared by the network-namespace labs (avahi-lab.sh, nat-lab.sh): sourced, not run.

# Waits (≤ 5 s) until PID is gone or a zombie (PID 1 here may not reap: check the state, not just kill -0).
wait_gone() {
  local pid="$1" i
  for i in $(seq 1 100); do
    [ -e "/proc/$pid" ] || return 0
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ] && return 0
    sleep 0.05
  done
  return 1
}
