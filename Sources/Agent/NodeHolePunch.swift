import Discovery
import EventLoop
import Transport
import Wire

/// One hole punch at a time (a window pairs one device; a joiner talks to one device at a time): the relayed
/// connection it upgrades, the socket bound to the port our CONNECT named, where the other side said it is, and the
/// direct connection while it is tried.
struct HolePunchState {
    var link = -1
    var stream: UInt32 = 0
    /// We sent the first CONNECT (we took the relayed connection in): we time the round trip and send SYNC.
    var initiator = false
    var socket: Int32 = -1
    var port: UInt16 = 0
    var peer: Multiaddr? = nil
    var sentAt: UInt64 = 0
    /// Initiator: when to dial (half the round trip after SYNC went out); 0: not due.
    var dialAt: UInt64 = 0
    var attempts = 0
    var direct = -1

    /// The spec: the initiator tries three times before it gives up.
    static let attempts = 3
    /// A direct connect the other side's NAT does not let through is dropped without an answer: a SYN is resent
    /// after one second and three, so five seconds covers the punch arriving a little late.
    static let connectMilliseconds: UInt64 = 5_000
}

/// Hole punching (DCUtR, libp2p/specs relay/DCUtR.md): once a pairing runs through a relay, both sides try to open
/// a direct TCP connection at the same moment (simultaneous open), which two NATs let through when each keeps the
/// port a socket had (what Linux masquerade and most home routers do) and answers nothing unasked. The pairing does
/// not wait for it: it goes on over the relay, and its PAIRED line and event say which path carried it. Each side
/// names its public address as the one its DHT peers confirmed (identify) with the port of a socket bound for the
/// dial. The side that took the relayed connection in (the board) starts, and on the direct connection acts as the
/// dialer in Noise (go-libp2p's rule for a simultaneous open); the other (the joiner) answers.
extension Node {
    /// Board: a relayed connection is up; try for a direct one. CONNECT goes out right behind the stream's
    /// protocol proposal (as go-libp2p's lazy negotiation does), not a relay round trip later: the punch should
    /// land while the pairing is still running.
    func holePunchBegin(_ v: Int) {
        guard holePunch.link < 0, let s = freeStream(v) else { return }
        openStream(v, proposal: HolePunch.protocolID, purpose: .holePunch)
        guard links[v].streams[s].id != 0 else { return }
        holePunch = HolePunchState()
        holePunch.link = v
        holePunch.stream = links[v].streams[s].id
        holePunch.initiator = true
        holePunchConnect(v, s)
    }

    /// Sends CONNECT with our address and a freshly bound socket's port (none when no DHT peer confirmed where we
    /// are: the other side then knows there is nothing to dial).
    func holePunchConnect(_ i: Int, _ s: Int) {
        closeHolePunchSocket()
        var ours: Multiaddr? = nil
        if let host = observedAddresses.confirmed {
            var ipv6 = false
            if case .ip6 = host { ipv6 = true }
            if case .success(let (fd, port)) = Net.boundSocket(ipv6: ipv6) {
                holePunch.socket = fd
                ours = Multiaddr(host: host, port: port)
            }
        }
        holePunch.sentAt = MonotonicClock.milliseconds()
        holePunchSend(i, s, .connect, ours)
    }

    func holePunchSend(_ i: Int, _ s: Int, _ kind: HolePunch.Kind, _ address: Multiaddr?) {
        var out = FixedBytes<64>()
        let n = out.withUnsafeMutableBytes { HolePunch.write(kind, address, into: $0) } ?? 0
        out.withUnsafeBytes { write(i, links[i].streams[s].id, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    func holePunchInput(_ i: Int, _ s: Int) {
        let m: HolePunch.Message
        do {
            guard case .message(let message, let used) = try HolePunch.read(links[i].streams[s].received) else { return }
            m = message
            consume(i, s, used)
        } catch {
            return holePunchEnd("the peer's DCUtR message was malformed")
        }
        if holePunch.link != i {
            // Joiner: the device starts a hole punch on this relayed connection.
            guard holePunch.link < 0, m.kind == .connect else { return resetStream(i, s) }
            holePunch = HolePunchState()
            holePunch.link = i
            holePunch.stream = links[i].streams[s].id
        }
        guard m.kind == .connect else {
            // SYNC (joiner): dial now, as the device dials half a round trip after sending it.
            return holePunchDial()
        }
        guard let address = m.address, AddressScope.of(address.host) == .global else {
            // Nothing public to dial: the device learns it from our CONNECT too (sent with or without ours).
            if !holePunch.initiator { holePunchConnect(i, s) }
            return holePunchEnd("the peer does not know its public address")
        }
        holePunch.peer = address
        let now = MonotonicClock.milliseconds()
        if !holePunch.initiator { holePunchConnect(i, s) }
        guard holePunch.socket >= 0 else { return holePunchEnd("no DHT peer confirmed this device's public address") }
        if holePunch.initiator {
            holePunchSend(i, s, .sync, nil)
            holePunch.dialAt = now + max((now - holePunch.sentAt) / 2, 1)
        }
    }

    /// Initiator: half a round trip after SYNC.
    func holePunchTick(_ now: UInt64) {
        guard holePunch.dialAt != 0, now >= holePunch.dialAt else { return }
        holePunch.dialAt = 0
        holePunchDial()
    }

    /// Dials the other side from the bound socket; the connection is a link of its own, expected to be the peer of
    /// the relayed connection.
    func holePunchDial() {
        let v = holePunch.link
        guard v >= 0, holePunch.socket >= 0, let peer = holePunch.peer, let session = links[v].connection?.session else { return }
        guard let d = freeLink() else { return holePunchEnd("no free connection slot") }
        let fd = holePunch.socket
        holePunch.socket = -1
        holePunch.attempts += 1
        if let e = Net.connect(fd, host: peer.hostText, port: peer.port) {
            Net.close(fd)
            return holePunchFailed(peer.text + ": " + e.name)
        }
        holePunchSay("dialling ", peer)
        let now = MonotonicClock.milliseconds()
        setUp(d, fd: fd, role: holePunch.initiator ? .dialer : .listener, connecting: true, now: now)
        links[d].expected = PeerID(publicKey: session.remoteIdentity)
        links[d].dialled = peer
        links[d].holePunch = true
        links[d].deadline = now + HolePunchState.connectMilliseconds
        holePunch.direct = d
    }

    /// The direct connection is up (Noise done, the same peer as through the relay).
    func holePunched(_ d: Int) {
        if let address = links[d].dialled { holePunchSay("direct connection to ", address) }
        let v = holePunch.link
        if v >= 0, let s = holePunchStream(v) {
            try? links[v].connection!.finish(links[v].streams[s].id)
            releaseStream(v, s)
        }
        closeHolePunchSocket()
        holePunch = HolePunchState()
    }

    /// The direct attempt failed: the initiator tries again on the same stream (fresh CONNECT, fresh round trip)
    /// until the third attempt; the other side waits for its next CONNECT.
    func holePunchFailed(_ reason: String) {
        holePunch.direct = -1
        guard holePunch.initiator else { return log("hole punch: attempt failed: " + reason) }
        guard holePunch.attempts < HolePunchState.attempts, let s = holePunchStream(holePunch.link) else {
            return holePunchEnd("no direct connection after " + String(holePunch.attempts) + " attempt(s), the last: " + reason)
        }
        holePunchConnect(holePunch.link, s)
    }

    /// Gives up: one line, the stream reset, the socket closed. The relay carries on.
    func holePunchEnd(_ reason: String) {
        let v = holePunch.link
        if v >= 0, let s = holePunchStream(v) { resetStream(v, s) }
        closeHolePunchSocket()
        holePunch = HolePunchState()
        log("hole punch: " + reason + "; the relay carries the pairing")
    }

    /// Link `i` is going: the relayed connection ends the attempt quietly (its own drop is the news); the direct one
    /// is a failed attempt.
    func holePunchLinkGone(_ i: Int, _ reason: String) {
        if i == holePunch.direct { return holePunchFailed(reason) }
        guard i == holePunch.link else { return }
        let d = holePunch.direct
        closeHolePunchSocket()
        holePunch = HolePunchState()
        if d >= 0 { dropQuietly(d) }
    }

    func holePunchSay(_ what: String, _ address: Multiaddr) {
        log("hole punch: " + what + address.text + " (attempt " + String(holePunch.attempts) + ")")
    }

    func closeHolePunchSocket() {
        if holePunch.socket >= 0 { Net.close(holePunch.socket) }
        holePunch.socket = -1
    }

    func holePunchStream(_ v: Int) -> Int? {
        holePunch.stream == 0 ? nil : stream(v, holePunch.stream)
    }
}
