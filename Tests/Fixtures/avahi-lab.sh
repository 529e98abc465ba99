#!/usr/bin/env bash
# A two-host LAN for mDNS tests: network namespaces A and B joined by a veth pair (10.77.0.1, 10.77.0.2), each
# with its own D-Bus system bus and its own real avahi-daemon. Needs root (ip netns) and avahi-daemon, dbus.
#
#   avahi-lab.sh up DIR              build the lab; its state (namespace names, PIDs, sockets) lives in DIR
#   avahi-lab.sh run DIR A|B CMD...  exec CMD inside host A or B, talking to that host's avahi-daemon
#                                    (it execs all the way down, so the caller's child PID is CMD's PID)
#   avahi-lab.sh stop-avahi DIR A|B  SIGTERM that host's avahi-daemon and wait until it is gone
#   avahi-lab.sh start-avahi DIR A|B start it again
#   avahi-lab.sh down DIR            stop every daemon the lab started (by PID) and delete the namespaces
#
# Every wait is bounded. `down` is safe to run twice and after a failed `up`.
set -euo pipefail

cmd="${1:?usage: avahi-lab.sh up|run|stop-avahi|start-avahi|down DIR ...}"
dir="${2:?state directory}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

ns_name() { echo "sdp$1-$(basename "$dir" | tr -cd 'a-zA-Z0-9' | tail -c 10)"; }

# shellcheck source=lab-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

start_avahi() {
  local host="$1" ns
  ns="$(ns_name "$host")"
  mkdir -p "$dir/$host/run"
  mkdir -p /run/avahi-daemon
  # A private mount namespace per daemon: each writes /run/avahi-daemon/{pid,socket}.
  DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/$host/dbus.sock" \
    ip netns exec "$ns" unshare -m --propagation private sh -c \
    "mount --bind '$dir/$host/run' /run/avahi-daemon && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f '$dir/$host/avahi.conf'" \
    >"$dir/$host/avahi.log" 2>&1 &
  echo $! >"$dir/$host/avahi.pid"
  # Ready when it has registered on the bus (its socket file appears under the bind-mounted run directory).
  local i
  for i in $(seq 1 100); do
    [ -S "$dir/$host/run/socket" ] && return 0
    sleep 0.05
  done
  echo "avahi-lab: avahi-daemon in $host did not start; log:" >&2
  cat "$dir/$host/avahi.log" >&2
  return 1
}

stop_avahi() {
  local host="$1" pid
  [ -f "$dir/$host/avahi.pid" ] || return 0
  pid="$(cat "$dir/$host/avahi.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/$host/avahi.pid" "$dir/$host/run/socket" "$dir/$host/run/pid"
}

host_up() {
  local host="$1" addr="$2" ns
  ns="$(ns_name "$host")"
  mkdir -p "$dir/$host"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "veth$host"
  ip -n "$ns" link set "veth$host" multicast on up
  cat >"$dir/$host/dbus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/$host/dbus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>/etc/dbus-1/system.d</includedir>
</busconfig>
EOF
  cat >"$dir/$host/avahi.conf" <<EOF
[server]
host-name=sdp-host-$host
use-ipv4=yes
use-ipv6=no
allow-interfaces=veth$host
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-aaaa-on-ipv4=no
EOF
  ip netns exec "$ns" dbus-daemon --config-file="$dir/$host/dbus.conf" --fork --print-pid >"$dir/$host/dbus.pid"
  local i
  for i in $(seq 1 100); do
    [ -S "$dir/$host/dbus.sock" ] && break
    sleep 0.05
  done
  start_avahi "$host"
}

down() {
  local host pid
  for host in A B; do
    stop_avahi "$host"
    if [ -f "$dir/$host/dbus.pid" ]; then
      pid="$(head -n 1 "$dir/$host/dbus.pid")"
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
      [ -n "$pid" ] && { wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true; }
      rm -f "$dir/$host/dbus.pid"
    fi
    ip netns del "$(ns_name "$host")" 2>/dev/null || true
  done
}

case "$cmd" in
  up)
    down
    ip netns add "$(ns_name A)"
    ip netns add "$(ns_name B)"
    ip link add vethA netns "$(ns_name A)" type veth peer name vethB netns "$(ns_name B)"
    host_up A 10.77.0.1 || { down; exit 1; }
    host_up B 10.77.0.2 || { down; exit 1; }
    ;;
  run)
    host="${3:?A or B}"; shift 3
    exec env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/$host/dbus.sock" ip netns exec "$(ns_name "$host")" "$@"
    ;;
  stop-avahi) stop_avahi "${3:?A or B}" ;;
  start-avahi) start_avahi "${3:?A or B}" ;;
  down) down ;;
  *) echo "avahi-lab: unknown command $cmd" >&2; exit 2 ;;
esac
