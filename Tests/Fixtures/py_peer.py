#!/usr/bin/env python3
"""A real libp2p peer (py-libp2p 0.8.1) for interop tests, on loopback only.

  py_peer.py listen [--timeout S]           prints "LISTEN <multiaddr>/p2p/<id>", serves echo and ping
  py_peer.py dial <multiaddr> [--timeout S] opens an echo stream and pings 3 times, prints "ECHO <text>" and
                                            "PING <n> <ms>", asks identify, prints "IDENTIFY <observed
                                            addr> <key matches peer id> <protocols…>", then "DONE"
  py_peer.py dial <multiaddr> --idle S      connects (Noise, yamux), prints "CONNECTED", then says nothing for S s

Every run ends by itself after --timeout seconds (default 30). Exit status 0 only if everything asked succeeded.
"""
import argparse
import sys

import multiaddr
import trio
from listen_lines import print_listen_lines
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.custom_types import TProtocol
from libp2p.crypto.serialization import deserialize_public_key
from libp2p.host.ping import ID as PING_ID, handle_ping, perform_ping_roundtrip
from libp2p.identity.identify.identify import ID as IDENTIFY_ID, parse_identify_response
from libp2p.network.stream.exceptions import StreamEOF
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr

ECHO = TProtocol("/sd-pair/test-echo/1.0.0")
LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


async def echo_handler(stream):
    try:
        while True:
            data = await stream.read(65536)
            if not data:
                break
            await stream.write(data)
    except Exception:
        pass
    finally:
        await stream.close()


async def listen(timeout):
    host = new_host(key_pair=create_new_key_pair())
    async with host.run(listen_addrs=[LOOPBACK]):
        host.set_stream_handler(ECHO, echo_handler)
        host.set_stream_handler(PING_ID, handle_ping)
        print_listen_lines(host)
        with trio.move_on_after(timeout):
            await trio.sleep_forever()
    return 0


async def idle(target, seconds):
    host = new_host(key_pair=create_new_key_pair())
    async with host.run(listen_addrs=[LOOPBACK]):
        info = info_from_p2p_addr(multiaddr.Multiaddr(target))
        with trio.fail_after(10):
            await host.connect(info)
        print("CONNECTED", flush=True)
        await trio.sleep(seconds)
    return 0


async def dial(target, timeout):
    host = new_host(key_pair=create_new_key_pair())
    async with host.run(listen_addrs=[LOOPBACK]):
        info = info_from_p2p_addr(multiaddr.Multiaddr(target))
        with trio.fail_after(timeout):
            await host.connect(info)
            stream = await host.new_stream(info.peer_id, [ECHO])
            await stream.write(b"hello from py-libp2p")
            echoed = b""
            while len(echoed) < 20:
                chunk = await stream.read(1024)
                if not chunk:
                    break
                echoed += chunk
            print("ECHO " + echoed.decode(errors="replace"), flush=True)
            await stream.close()
            ping = await host.new_stream(info.peer_id, [PING_ID])
            for i in range(3):
                print("PING %d %d" % (i + 1, await perform_ping_roundtrip(ping)), flush=True)
            await ping.close()
            # Identify, read with py-libp2p's own parser: the observed address, the key, the protocols offered.
            ident = await host.new_stream(info.peer_id, [IDENTIFY_ID])
            answer = b""
            while len(answer) < 8192:
                try:
                    chunk = await ident.read(4096)
                except StreamEOF:  # py-libp2p reports the end of a stream we read to the end this way
                    break
                if not chunk:
                    break
                answer += chunk
            message = parse_identify_response(answer)
            same = ID.from_pubkey(deserialize_public_key(message.public_key)) == info.peer_id
            print("IDENTIFY %s %s %s" % (multiaddr.Multiaddr(message.observed_addr), same, " ".join(message.protocols)), flush=True)
            print("DONE", flush=True)
    return 0 if echoed == b"hello from py-libp2p" else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["listen", "dial"])
    parser.add_argument("addr", nargs="?")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=None)
    args = parser.parse_args()
    if args.mode == "listen":
        return trio.run(listen, args.timeout)
    if not args.addr:
        parser.error("dial needs a multiaddr")
    if args.idle is not None:
        return trio.run(idle, args.addr, min(args.idle, args.timeout))
    return trio.run(dial, args.addr, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
