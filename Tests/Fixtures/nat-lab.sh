#!/usr/bin/env bash
# A small internet in network namespaces, for the NAT tests. Needs root, iproute2, nftables, miniupnpd-nftables.
#
#   inet    the "internet": a bridge with 51.20.0.1/24 (an unreserved range, as miniupnpd maps only for a public
#           WAN address; the namespaces have no uplink, so nothing leaves the machine). DHT nodes run here.
#   ra      the board's home router: WAN 51.20.0.2 (or 100.64.0.2 with --cgnat), LAN 192.168.10.1/24, nftables
#           masquerade, and miniupnpd (UPnP IGD + NAT-PMP) unless --mapping none
#   board   192.168.10.2, default route via ra
#   rb      the laptop's router: WAN 51.20.0.3, LAN 192.168.20.1/24, masquerade, no port mapping
#   laptop  192.168.20.2, default route via rb
#
#   nat-lab.sh up DIR [--mapping both|upnp|natpmp|none] [--cgnat] [--stealth] [--random-ports]
#                                    --stealth: both routers drop connections from outside nobody asked for;
#                                    --random-ports: the laptop's router picks a new port for each connection
#   nat-lab.sh run DIR inet|ra|board|rb|laptop CMD...   exec CMD in that namespace (the caller's child PID is CMD's)
#   nat-lab.sh mappings DIR          the router's current port mappings (its nftables DNAT rules), one per line
#   nat-lab.sh stop-mapping DIR      SIGTERM miniupnpd and wait until it is gone
#   nat-lab.sh forward DIR PORT      forward TCP PORT on ra's WAN to the board by hand (a DNAT rule, not miniupnpd)
#   nat-lab.sh down DIR              stop what the lab started (by PID) and delete its namespaces
#
# Namespaces are named after DIR, so two labs on one machine do not collide. Every wait is bounded; `down` is safe
# to run twice and after a failed `up`.
set -euo pipefail

cmd="${1:?usage: nat-lab.sh up|run|mappings|stop-mapping|down DIR ...}"
dir="${2:?state directory}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
suffix="$(basename "$dir" | tr -cd 'a-zA-Z0-9' | tail -c 9)"
ns() { echo "sdn$1-$suffix"; }

# shellcheck source=lab-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lab-common.sh"

stop_mapping() {
  [ -f "$dir/miniupnpd.pid" ] || return 0
  local pid
  pid="$(cat "$dir/miniupnpd.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$dir/miniupnpd.pid"
}

down() {
  stop_mapping
  local n
  for n in inet ra board rb laptop; do ip netns del "$(ns "$n")" 2>/dev/null || true; done
}

# Joins namespace $1 (interface $2, address $3) to the internet bridge.
wan_link() {
  local inside="$1" ifname="$2" address="$3" outside="w$1-$suffix"
  ip link add "$ifname" netns "$(ns "$inside")" type veth peer name "${outside:0:15}" netns "$(ns inet)"
  ip -n "$(ns inet)" link set "${outside:0:15}" master br0 up
  ip -n "$(ns "$inside")" addr add "$address" dev "$ifname"
  ip -n "$(ns "$inside")" link set "$ifname" up
}

# Router $1 (LAN 192.168.$2.1/24) and its host $3 (192.168.$2.2); $4: masquerade's flags ("fully-random": each
# connection leaves from a port of its own, which no hole punch can predict).
lan_link() {
  local router="$1" net="$2" host="$3" masq="${4:-}"
  ip link add lan netns "$(ns "$router")" type veth peer name eth0 netns "$(ns "$host")"
  ip -n "$(ns "$router")" addr add "192.168.$net.1/24" dev lan
  ip -n "$(ns "$router")" link set lan up
  ip -n "$(ns "$host")" addr add "192.168.$net.2/24" dev eth0
  ip -n "$(ns "$host")" link set eth0 up
  ip -n "$(ns "$host")" route add default via "192.168.$net.1"
  ip netns exec "$(ns "$router")" sysctl -qw net.ipv4.ip_forward=1
  # miniupnpd's chains first, then the jumps to them; masquerade what leaves the WAN; forward only replies,
  # the LAN's own traffic, and what a mapping opened.
  ip netns exec "$(ns "$router")" nft -f - <<EOF
table inet filter {
  chain miniupnpd { }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; jump postrouting_miniupnpd; oifname "wan" masquerade $masq; }
  chain forward { type filter hook forward priority filter; policy drop; ct state established,related accept; iifname "lan" accept; jump miniupnpd; }
}
EOF
}

up() {
  local mapping="both" wan="51.20.0.2/24" gateway="" stealth="" random_ports=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --mapping) mapping="$2"; shift 2 ;;
      --cgnat) wan="100.64.0.2/24"; gateway="100.64.0.1"; shift ;;
      --stealth) stealth=yes; shift ;;
      --random-ports) random_ports=fully-random; shift ;;
      *) echo "nat-lab: unknown option $1" >&2; return 2 ;;
    esac
  done
  down
  local n
  for n in inet ra board rb laptop; do
    ip netns add "$(ns "$n")"
    ip -n "$(ns "$n")" link set lo up
  done
  ip -n "$(ns inet)" link add br0 type bridge
  ip -n "$(ns inet)" addr add 51.20.0.1/24 dev br0
  ip -n "$(ns inet)" addr add 100.64.0.1/24 dev br0
  ip -n "$(ns inet)" link set br0 up
  wan_link ra wan "$wan"
  wan_link rb wan 51.20.0.3/24
  if [ -n "$gateway" ]; then
    # Carrier-grade NAT: the provider's side (inet) forwards between its 100.64/10 customers and the internet.
    ip netns exec "$(ns inet)" sysctl -qw net.ipv4.ip_forward=1
    ip -n "$(ns ra)" route add default via "$gateway"
  fi
  lan_link ra 10 board
  lan_link rb 20 laptop "$random_ports"
  if [ -n "$stealth" ]; then
    # Like most home routers: a connection nobody inside asked for is dropped without an answer (no RST), so a
    # hole punch's SYN that arrives before the other side's has gone out is just sent again a second later.
    for n in ra rb; do
      ip netns exec "$(ns "$n")" nft add chain inet filter input '{ type filter hook input priority filter; policy accept; }'
      ip netns exec "$(ns "$n")" nft add rule inet filter input iifname wan ct state new drop
    done
  fi
  [ "$mapping" = none ] && return 0
  local natpmp=yes upnp=yes
  [ "$mapping" = upnp ] && natpmp=no
  [ "$mapping" = natpmp ] && upnp=no
  cat >"$dir/miniupnpd.conf" <<EOF
ext_ifname=wan
listening_ip=lan
http_port=0
enable_natpmp=$natpmp
enable_upnp=$upnp
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 192.168.10.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  ip netns exec "$(ns ra)" miniupnpd -d -f "$dir/miniupnpd.conf" -P "$dir/miniupnpd.run.pid" >"$dir/miniupnpd.log" 2>&1 &
  echo $! >"$dir/miniupnpd.pid"
  local i
  for i in $(seq 1 100); do
    grep -q "Listening for NAT-PMP\|HTTP listening on port\|SSDP" "$dir/miniupnpd.log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nat-lab: miniupnpd did not start; log:" >&2
  cat "$dir/miniupnpd.log" >&2
  return 1
}

case "$cmd" in
  up) shift 2; up "$@" ;;
  run) host="${3:?host}"; shift 3; exec ip netns exec "$(ns "$host")" "$@" ;;
  mappings) ip netns exec "$(ns ra)" nft list chain inet filter prerouting_miniupnpd | grep -o 'dport [0-9]* dnat [a-z ]*to [0-9.:]*' || true ;;
  stop-mapping) stop_mapping ;;
  forward)
    # A port forwarded by hand on the board's router (what an owner does when the router has no UPnP or NAT-PMP).
    port="${3:?port}"
    ip netns exec "$(ns ra)" nft add rule inet filter prerouting iifname wan tcp dport "$port" dnat ip to "192.168.10.2:$port"
    ip netns exec "$(ns ra)" nft add rule inet filter forward ip daddr 192.168.10.2 tcp dport "$port" accept ;;
  down) down; rm -f "$dir/miniupnpd.conf" "$dir/miniupnpd.log" "$dir/miniupnpd.run.pid" ;;
  *) echo "nat-lab: unknown command $cmd" >&2; exit 2 ;;
esac
