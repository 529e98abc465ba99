#!/usr/bin/env python3
"""One real Kademlia DHT node (py-libp2p 0.8.1, server mode) on loopback, for the DHT discovery tests.

  py_dht.py node [--bootstrap <multiaddr/p2p/id>]... [--records FILE] [--permissive] [--relay [--relay-delay MS] [--relay-cut BYTES]]
                 [--ip A] [--timeout S]
  py_dht.py put --to <multiaddr/p2p/id> (--key HEX --value HEX | --forge valid|expired|other-key)

node: prints "LISTEN <multiaddr>/p2p/<id>", joins the DHT through the bootstrap peers (adds them to its routing
table and looks itself up so that they learn about it), then prints "READY". With --records it rewrites FILE
every 0.2 s with one line per stored record, "<key hex> <value hex>", so a test can check what the DHT holds.
Every run ends by itself after --timeout seconds (default 120).

By default a node follows the public IPFS DHT's rules: strict validation, so only /pk and /ipns records are
stored, and IPNS records must pass the spec's checks (V2 signature, DAG-CBOR data, V1 fields matching, end of life
not passed). py-libp2p 0.8.1 decodes a PUT_VALUE key as UTF-8 and wants IPNS names in hex or base58, so it cannot
take the binary "/ipns/<multihash>" keys go-libp2p and kubo use; `accept_go_ipns_keys` rewrites that one line at
run time so that such a key reaches the IPNS validator as "/ipns/<hex>". --permissive: a private DHT that stores
any key (the /sd-pair/ record setting).

--relay: the node also serves circuit relay v2 (py-libp2p's own CircuitV2Protocol with hop allowed, as its docs set
it up), with the limits public IPFS nodes apply to a relayed connection: 2 minutes and 128 KiB. Its identify answer
then lists the hop protocol, which is how a board finds it. --relay-delay MS: a relay far away, each chunk it passes
on waits MS first (so that a direct connection is measurably faster than the relayed one). --relay-cut BYTES: the
first relayed connection is reset once it has carried BYTES bytes (a relay dropping a stream mid-pairing).

put: sends one raw PUT_VALUE to a node and prints STORED (the node echoed the record) or REFUSED (it reset the
stream). --forge makes an IPNS record with a fresh key of its own: valid, expired (end of life an hour ago), or
other-key (signed by one key, stored under another key's name).
"""
import argparse
import inspect
import os
import textwrap
from datetime import datetime, timedelta, timezone

import multiaddr
import trio
import varint
from listen_lines import print_listen_lines
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
import libp2p.kad_dht.kad_dht as kad_dht_module
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


def go_key_text(key: bytes) -> str:
    """A PUT_VALUE key as py-libp2p's validators read it: binary IPNS names as hex, anything else UTF-8."""
    if key.startswith(b"/ipns/"):
        return "/ipns/" + key[6:].hex()
    return key.decode("utf-8")


def accept_go_ipns_keys():
    source = textwrap.dedent(inspect.getsource(KadDHT._do_handle_stream))
    old = 'key_str = key.decode("utf-8")'
    if source.count(old) != 1:
        raise SystemExit("py-libp2p changed: the PUT_VALUE key decoding line is not where 0.8.1 has it")
    namespace = dict(vars(kad_dht_module))
    namespace["go_key_text"] = go_key_text
    exec(source.replace(old, "key_str = go_key_text(key)"), namespace)
    KadDHT._do_handle_stream = namespace["_do_handle_stream"]


def distant_relay(delay_ms):
    """The relay far away: each chunk it reads waits `delay_ms` before it goes on (this kernel has no tc netem)."""
    from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
    read = CircuitV2Protocol._read_stream_with_retry

    async def delayed(self, stream, *args, **kwargs):
        data = await read(self, stream, *args, **kwargs)
        if data:
            await trio.sleep(delay_ms / 1000)
        return data

    CircuitV2Protocol._read_stream_with_retry = delayed


def cutting_relay(cut_bytes):
    """A relay that drops a connection mid-pairing: the first circuit it opens is reset once it has carried
    `cut_bytes` bytes (both ways together; its own data limit, lowered), the later ones pass."""
    from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
    relay_data = CircuitV2Protocol._relay_data
    first = []

    async def cut(self, src, dst, peer_id, deadline=None, circuit_data_limit=None):
        if circuit_data_limit is not None and not first:
            first.append(circuit_data_limit)
            circuit_data_limit[0] = cut_bytes
        return await relay_data(self, src, dst, peer_id, deadline, circuit_data_limit)

    CircuitV2Protocol._relay_data = cut


def relay_service(host, enabled):
    from contextlib import nullcontext
    if not enabled:
        return nullcontext()
    from libp2p.relay.circuit_v2.protocol import CircuitV2Protocol
    from libp2p.relay.circuit_v2.resources import RelayLimits
    limits = RelayLimits(duration=120, data=128 * 1024, max_circuit_conns=8, max_reservations=8)
    return background_trio_service(CircuitV2Protocol(host, limits=limits, allow_hop=True))


async def node(args):
    if not args.permissive:
        accept_go_ipns_keys()
    host = new_host(key_pair=create_new_key_pair())
    if args.relay_delay:
        distant_relay(args.relay_delay)
    if args.relay_cut:
        cutting_relay(args.relay_cut)
    async with host.run(listen_addrs=[multiaddr.Multiaddr(f"/ip4/{args.ip}/tcp/0")]):
        dht = KadDHT(host, DHTMode.SERVER, strict_validation=not args.permissive)
        print_listen_lines(host)
        async with background_trio_service(dht), relay_service(host, args.relay):
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


def forged_record(kind):
    """(routing key, IpnsEntry bytes) signed by a fresh key of our own."""
    import cbor2
    from libp2p.records.pb.ipns_pb2 import IpnsEntry

    signer = create_new_key_pair()
    named = create_new_key_pair() if kind == "other-key" else signer
    public = named.public_key.serialize()  # protobuf PublicKey, 36 bytes for Ed25519
    key = b"/ipns/" + bytes([0x00, len(public)]) + public
    eol = datetime.now(timezone.utc) + (timedelta(hours=-1) if kind == "expired" else timedelta(hours=1))
    validity = eol.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    value = b"/ipfs/bafkqaaa"
    data = cbor2.dumps({"TTL": 60_000_000_000, "Value": value, "Sequence": 0, "Validity": validity, "ValidityType": 0}, canonical=True)
    entry = IpnsEntry()
    entry.value = value
    entry.validity = validity
    entry.validityType = 0
    entry.sequence = 0
    entry.ttl = 60_000_000_000
    entry.signatureV1 = signer.private_key.sign(value + validity + b"EOL")
    entry.signatureV2 = signer.private_key.sign(b"ipns-signature:" + data)
    entry.data = data
    return key, entry.SerializeToString()


async def put(args):
    from libp2p.kad_dht.pb.kademlia_pb2 import Message
    from libp2p.kad_dht.common import PROTOCOL_ID

    if args.forge:
        key, value = forged_record(args.forge)
    else:
        key, value = bytes.fromhex(args.key), bytes.fromhex(args.value)
    host = new_host(key_pair=create_new_key_pair())
    async with host.run(listen_addrs=[LOOPBACK]):
        info = info_from_p2p_addr(multiaddr.Multiaddr(args.to))
        with trio.fail_after(20):
            await host.connect(info)
            stream = await host.new_stream(info.peer_id, [PROTOCOL_ID])
            message = Message()
            message.type = Message.MessageType.PUT_VALUE
            message.key = key
            message.record.key = key
            message.record.value = value
            body = message.SerializeToString()
            await stream.write(varint.encode(len(body)) + body)
            try:
                answer = await stream.read(65536)
            except Exception:
                answer = b""
        print("STORED" if answer else "REFUSED", flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["node", "put"])
    p.add_argument("--bootstrap", action="append", default=[])
    p.add_argument("--records")
    p.add_argument("--permissive", action="store_true")
    p.add_argument("--relay", action="store_true", help="also serve circuit relay v2")
    p.add_argument("--relay-delay", type=int, default=0, help="a distant relay: milliseconds each relayed chunk waits")
    p.add_argument("--relay-cut", type=int, default=0, help="reset the first relayed connection after this many bytes")
    p.add_argument("--ip", default="127.0.0.1", help="the address to listen on (a lab's internet address)")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--to")
    p.add_argument("--key")
    p.add_argument("--value")
    p.add_argument("--forge", choices=["valid", "expired", "other-key"])
    args = p.parse_args()
    return trio.run(node if args.mode == "node" else put, args)


if __name__ == "__main__":
    raise SystemExit(main())
