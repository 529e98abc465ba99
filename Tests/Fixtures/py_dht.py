#!/usr/bin/env python3
"""One real Kademlia DHT node (py-libp2p 0.8.1, server mode) on loopback, for the DHT discovery tests.

  py_dht.py node [--bootstrap <multiaddr/p2p/id>]... [--records FILE] [--timeout S]

Prints "LISTEN <multiaddr>/p2p/<id>", joins the DHT through the bootstrap peers (adds them to its routing
table and looks itself up so that they learn about it), then prints "READY". With --records it rewrites FILE
every 0.2 s with one line per stored record, "<key hex> <value hex>", so a test can check what the DHT holds.
Every run ends by itself after --timeout seconds (default 120).
"""
import argparse

import multiaddr
import trio
from listen_lines import print_listen_lines
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.tools.anyio_service.context import background_trio_service

LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


async def dump(dht, path):
    while True:
        lines = []
        for key, (record, _) in list(dht.value_store.store.items()):
            lines.append(key.hex() + " " + bytes(record.value).hex())
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + ("\n" if lines else ""))
        import os
        os.replace(tmp, path)
        await trio.sleep(0.2)


async def node(args):
    host = new_host(key_pair=create_new_key_pair())
    async with host.run(listen_addrs=[LOOPBACK]):
        dht = KadDHT(host, DHTMode.SERVER)
        print_listen_lines(host)
        async with background_trio_service(dht):
            for b in args.bootstrap:
                info = info_from_p2p_addr(multiaddr.Multiaddr(b))
                host.get_peerstore().add_addrs(info.peer_id, info.addrs, 3600)
                with trio.move_on_after(10):
                    await host.connect(info)
                    await dht.add_peer(info.peer_id, skip_server_mode_check=True)
            if args.bootstrap:
                with trio.move_on_after(10):
                    await dht.peer_routing.find_closest_peers_network(host.get_id().to_bytes())
            print("READY", flush=True)
            async with trio.open_nursery() as nursery:
                if args.records:
                    nursery.start_soon(dump, dht, args.records)
                await trio.sleep(args.timeout)
                nursery.cancel_scope.cancel()
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["node"])
    p.add_argument("--bootstrap", action="append", default=[])
    p.add_argument("--records")
    p.add_argument("--timeout", type=float, default=120)
    args = p.parse_args()
    return trio.run(node, args)


if __name__ == "__main__":
    raise SystemExit(main())
