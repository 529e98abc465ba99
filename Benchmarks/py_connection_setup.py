#!/usr/bin/env python3
"""py-libp2p doing what Benchmarks/ConnectionBench does: N sequential loopback connection set-ups (TCP, Noise,
yamux, a ping stream and one ping round trip), between two py-libp2p hosts in one process.
Prints "connections/s: <rate>" last."""
import sys
import time

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.host.ping import ID as PING_ID, handle_ping, perform_ping_roundtrip
from libp2p.peer.peerinfo import info_from_p2p_addr

LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


async def main(connections):
    listener = new_host(key_pair=create_new_key_pair())
    async with listener.run(listen_addrs=[LOOPBACK]):
        listener.set_stream_handler(PING_ID, handle_ping)
        addr = str(listener.get_addrs()[0])
        if "/p2p/" not in addr:
            addr += "/p2p/" + listener.get_id().pretty()
        info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        dialer = new_host(key_pair=create_new_key_pair())
        async with dialer.run(listen_addrs=[LOOPBACK]):
            start = time.monotonic()
            with trio.fail_after(600):
                for _ in range(connections):
                    await dialer.connect(info)
                    stream = await dialer.new_stream(info.peer_id, [PING_ID])
                    await perform_ping_roundtrip(stream)
                    await stream.close()
                    await dialer.disconnect(info.peer_id)
            elapsed = time.monotonic() - start
    print("py-libp2p: %d connections in %d ms" % (connections, elapsed * 1000))
    print("connections/s: %.2f" % (connections / elapsed))


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 20)
