"""What the py-libp2p fixtures share: announcing where a host listens, as the Swift tests read it."""


def print_listen_lines(host):
    """One "LISTEN <multiaddr>/p2p/<id>" line per listen address, flushed at once."""
    peer = host.get_id().pretty()
    for addr in host.get_addrs():
        text = str(addr)
        if "/p2p/" not in text:
            text += "/p2p/" + peer
        print("LISTEN " + text, flush=True)
