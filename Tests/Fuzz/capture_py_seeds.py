#!/usr/bin/env python3
"""Seed inputs for the fuzz targets, made by the real py-libp2p 0.8.1 (what a libp2p peer sends us):

  capture_py_seeds.py <corpus dir>

- connection, multistream, noise: the bytes a py-libp2p host sends when it dials us, recorded by a loopback
  listener that answers multistream-select so that py goes on to Noise message 1;
- kad, protobuf: Kademlia responses built by a py-libp2p KadDHT node in server mode from its own routing table and
  peer store (closer peers with their addresses and signed peer records, the sender's record, a stored record),
  length-prefixed as on the stream;
- noise: a NoiseHandshakePayload signed by a py-libp2p key; peerid, multiaddr: py's binary encodings;
- yamux: frames laid out as py-libp2p's yamux writes them (header struct ">BBHII");
- relay: circuit relay v2 messages as py-libp2p's relay builds them (a reservation with its address, voucher and
  limits; a refusal; a stop connect), length-prefixed as on the stream;
- holepunch: DCUtR messages from py-libp2p's HolePunch class (a CONNECT with a QUIC and a TCP address; SYNC).
Every step is bounded in time; the script ends by itself.
"""
import os
from functools import partial
import struct
import sys

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.kad_dht.kad_dht import DHTMode, KadDHT
from libp2p.kad_dht.pb.kademlia_pb2 import Message
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.peer.peerstore import env_to_send_in_RPC
from libp2p.security.noise.pb.noise_pb2 import NoiseHandshakePayload
from libp2p.tools.anyio_service.context import background_trio_service

LOOPBACK = multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def write(corpus, target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    with open(os.path.join(corpus, target, name), "wb") as f:
        f.write(data)


async def capture_dial(corpus):
    """Records a py-libp2p dialer's first bytes: multistream header, /noise, then Noise message 1."""
    received = bytearray()

    async def handler(stream):
        with trio.move_on_after(5):
            said_header = said_noise = False
            while True:
                data = await stream.receive_some(4096)
                if not data:
                    return
                received.extend(data)
                if not said_header:
                    said_header = True
                    await stream.send_all(varint(19) + b"/multistream/1.0.0\n")
                if not said_noise and b"/noise\n" in received:
                    said_noise = True
                    await stream.send_all(varint(7) + b"/noise\n")

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        target_key = create_new_key_pair()
        from libp2p.peer.id import ID

        target = ID.from_pubkey(target_key.public_key)
        host = new_host(key_pair=create_new_key_pair())
        async with host.run(listen_addrs=[LOOPBACK]):
            info = PeerInfo(target, [multiaddr.Multiaddr(f"/ip4/127.0.0.1/tcp/{port}")])
            with trio.move_on_after(4):
                try:
                    await host.connect(info)
                except Exception:
                    pass  # expected: we never finish the handshake
        nursery.cancel_scope.cancel()
    if len(received) < 40:
        raise SystemExit("capture_py_seeds: the py-libp2p dialer sent too little (%d bytes)" % len(received))
    write(corpus, "connection", "py-dialer", bytes(received))
    write(corpus, "multistream", "py-dialer", bytes(received))
    # The Noise part: everything after the two multistream lines.
    header = varint(19) + b"/multistream/1.0.0\n" + varint(7) + b"/noise\n"
    noise = bytes(received[len(header):]) if bytes(received).startswith(header) else bytes(received)
    write(corpus, "noise", "py-message1-frame", noise)


async def capture_kad(corpus):
    """Kademlia responses as a py-libp2p server builds them."""
    hosts = [new_host(key_pair=create_new_key_pair()) for _ in range(4)]
    async with hosts[0].run(listen_addrs=[LOOPBACK]), hosts[1].run(listen_addrs=[LOOPBACK]), \
            hosts[2].run(listen_addrs=[LOOPBACK]), hosts[3].run(listen_addrs=[LOOPBACK]):
        dht = KadDHT(hosts[0], DHTMode.SERVER)
        async with background_trio_service(dht):
            others = []
            for h in hosts[1:]:
                addr = str(h.get_addrs()[0])
                if "/p2p/" not in addr:
                    addr += "/p2p/" + h.get_id().pretty()
                info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
                hosts[0].get_peerstore().add_addrs(info.peer_id, info.addrs, 3600)
                with trio.move_on_after(10):
                    await hosts[0].connect(info)
                    await dht.add_peer(info.peer_id, skip_server_mode_check=True)
                others.append(info.peer_id)
                # Each peer's signed record, as py stores it after identify/kad exchanges.
                env, _ = env_to_send_in_RPC(h)
                try:
                    from libp2p.peer.envelope import consume_envelope

                    envelope, record = consume_envelope(env, "libp2p-peer-record")
                    hosts[0].get_peerstore().consume_peer_record(envelope, 3600)
                except Exception:
                    pass
            sender, _ = env_to_send_in_RPC(hosts[0])

            find = Message()
            find.type = Message.MessageType.FIND_NODE
            find.key = hosts[1].get_id().to_bytes()
            dht._add_closer_peers_to_response(find, others)
            find.senderRecord = sender
            body = find.SerializeToString()
            write(corpus, "kad", "py-find-node-response", varint(len(body)) + body)
            write(corpus, "protobuf", "py-find-node-response", body)

            get = Message()
            get.type = Message.MessageType.GET_VALUE
            get.key = b"/sd-pair/" + bytes(16)
            get.record.key = get.key
            get.record.value = bytes(range(200))
            get.record.timeReceived = "2026-11-25T10:00:00Z"
            dht._add_closer_peers_to_response(get, others[:1])
            body = get.SerializeToString()
            write(corpus, "kad", "py-get-value-response", varint(len(body)) + body)
            write(corpus, "protobuf", "py-get-value-response", body)

            empty = Message()
            empty.type = Message.MessageType.PUT_VALUE
            empty.key = get.key
            body = empty.SerializeToString()
            write(corpus, "kad", "py-put-value-response", varint(len(body)) + body)

            # py's encodings of ids and addresses.
            write(corpus, "peerid", "py-id", hosts[2].get_id().to_bytes())
            write(corpus, "multiaddr", "py-addr", hosts[2].get_addrs()[0].to_bytes())

            key = create_new_key_pair()
            payload = NoiseHandshakePayload()
            payload.identity_key = key.public_key.serialize()
            payload.identity_sig = key.private_key.sign(b"noise-libp2p-static-key:" + bytes(32))
            write(corpus, "noise", "py-payload", payload.SerializeToString())
            dht.manager.cancel()


def yamux_seeds(corpus):
    def frame(kind, flags, stream, length, payload=b""):
        return struct.pack(">BBHII", 0, kind, flags, stream, length) + payload

    write(corpus, "yamux", "open-data-fin", frame(0, 1, 1, 5, b"hello") + frame(0, 4, 1, 0))
    write(corpus, "yamux", "window-ping-goaway", frame(1, 1, 3, 65536) + frame(2, 1, 0, 7) + frame(3, 0, 0, 0))
    write(corpus, "yamux", "reset", frame(0, 1, 5, 0) + frame(1, 8, 5, 0))


def relay_seeds(corpus):
    from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, Limit, PeerId, Reservation, StopMessage

    peer = ID.from_pubkey(create_new_key_pair(b"\x07" * 32).public_key)
    relay = multiaddr.Multiaddr("/ip4/51.20.0.1/tcp/4002/p2p/" + peer.to_base58())
    reservation = Reservation(expire=1800000000, addrs=[relay.to_bytes()], voucher=b"\x01" * 40)
    messages = {
        "py-hop-ok": HopMessage(type=HopMessage.STATUS, status=100, reservation=reservation, limit=Limit(duration=120, data=131072)),
        "py-hop-no-reservation": HopMessage(type=HopMessage.STATUS, status=204),
        "py-stop-connect": StopMessage(type=StopMessage.CONNECT, peer=PeerId(id=peer.to_bytes()), limit=Limit(duration=3600, data=1 << 30)),
    }
    for name, message in messages.items():
        body = message.SerializeToString()
        write(corpus, "relay", name, varint(len(body)) + body)


def holepunch_seeds(corpus):
    from libp2p.relay.circuit_v2.pb.dcutr_pb2 import HolePunch

    addresses = [multiaddr.Multiaddr(a).to_bytes() for a in ("/ip4/51.20.0.3/udp/4001/quic-v1", "/ip4/51.20.0.3/tcp/4001")]
    for name, message in {"py-connect": HolePunch(type=HolePunch.CONNECT, ObsAddrs=addresses), "py-sync": HolePunch(type=HolePunch.SYNC)}.items():
        body = message.SerializeToString()
        write(corpus, "holepunch", name, varint(len(body)) + body)


async def main(corpus):
    with trio.fail_after(60):
        await capture_dial(corpus)
        await capture_kad(corpus)
    yamux_seeds(corpus)
    relay_seeds(corpus)
    holepunch_seeds(corpus)
    print("captured py-libp2p seeds under " + corpus)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    trio.run(main, sys.argv[1])
