import Discovery
import EventLoop
import Transport
import Wire

/// One hole punch at a time (a window pairs one device; a joiner talks to one device at a time): the relayed
/// connection it upgrades and its stream, the socket bound to the port our CONNECT named, the direct connection while
/// it is tried, and the session that decides (HolePunchSession).
struct HolePunchState {
    var link = -1
    var stream: UInt32 = 0
    var socket: Int32 = -1
    /// Our public address at the bound socket's port.
    var ours: Multiaddr? = nil
    var direct = -1
    var session = HolePunchSession(initiator: false)
}

/// Hole punching (DCUtR, libp2p/specs relay/DCUtR.md), the driver: once a pairing runs through a relay, both sides try
/// to open a direct TCP connection at the same moment (simultaneous open), which two NATs let through when each keeps
/// the port a socket had (what Linux masquerade and most home routers do) and answers nothing unasked. The pairing
/// does not wait for it: it goes on over the relay, and its PAIRED line and event say which path carried it. Each
/// side names its public address as the one its DHT peers confirmed (identify) with the port of a socket bound for
/// the dial. The side that took the relayed connection in (the board) starts, and on the direct connection acts as
/// the dialer in Noise (go-libp2p's rule for a simultaneous open); the other (the joiner) answers.
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
        holePunch.session = HolePunchSession(initiator: true)
        holePunchDo(holePunch.session.start())
    }

    func holePunchInput(_ i: Int, _ s: Int) {
        let m: HolePunch.Message
        do {
            guard case .message(let message, let used) = try HolePunch.read(links[i].streams[s].received) else { return }
            m = message
            consume(i, s, used)
        } catch {
            // Ends the hole punch this stream carries; a stray stream's garbage ends only that stream.
            guard holePunch.link == i && holePunch.stream == links[i].streams[s].id else { return resetStream(i, s) }
            return holePunchEnd("the peer's DCUtR message was malformed")
        }
        if holePunch.link != i {
            // Joiner: the device starts a hole punch on this relayed connection.
            guard holePunch.link < 0 else { return resetStream(i, s) }
            holePunch = HolePunchState()
            holePunch.link = i
            holePunch.stream = links[i].streams[s].id
        }
        holePunchDo(holePunch.session.received(m, now: now))
    }

    func holePunchTick(_ now: UInt64) {
        guard holePunch.link >= 0 else { return }
        holePunchDo(holePunch.session.tick(now: now))
    }

    /// Carries out what the session decided.
    func holePunchDo(_ action: HolePunchSession.Action) {
        switch action {
        case .none:
            return
        case .bind:
            closeHolePunchSocket()
            holePunch.ours = nil
            if let host = observedAddresses.confirmed {
                var ipv6 = false
                if case .ip6 = host { ipv6 = true }
                if case .success(let (fd, port)) = Net.boundSocket(ipv6: ipv6) {
                    holePunch.socket = fd
                    holePunch.ours = Multiaddr(host: host, port: port)
                }
            }
            holePunchDo(holePunch.session.bound(named: holePunch.ours != nil, now: now))
        case .sendConnect(let named):
            holePunchSend(.connect, named ? holePunch.ours : nil)
        case .sendSync:
            holePunchSend(.sync, nil)
        case .dial:
            if let peer = holePunch.session.peer { holePunchDial(peer) }
        case .end(let failure):
            // `.attemptsUsed` comes only from `failed()`, which holePunchFailed reads itself (it knows the last reason).
            holePunchEnd(failure == .noAddress ? "no DHT peer confirmed this device's public address" : "the peer does not know its public address")
        }
    }

    func holePunchSend(_ kind: HolePunch.Kind, _ address: Multiaddr?) {
        let v = holePunch.link
        guard let s = holePunchStream(v) else { return }
        var out = FixedBytes<64>()
        let n = out.withUnsafeMutableBytes { HolePunch.write(kind, address, into: $0) } ?? 0
        out.withUnsafeBytes { write(v, links[v].streams[s].id, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// Dials the other side from the bound socket; the connection is a link of its own, expected to be the peer of
    /// the relayed connection.
    func holePunchDial(_ peer: Multiaddr) {
        let v = holePunch.link
        guard holePunch.socket >= 0, let session = links[v].connection?.session else { return }
        guard let d = freeLink() else { return holePunchEnd("no free connection slot") }
        let fd = holePunch.socket
        holePunch.socket = -1
        if let e = Net.connect(fd, host: peer.hostText, port: peer.port) {
            Net.close(fd)
            return holePunchFailed(peer.text + ": " + e.name)
        }
        holePunchSay("dialling ", peer)
        setUp(d, fd: fd, role: holePunch.session.initiator ? .dialer : .listener, connecting: true, now: now)
        links[d].expected = PeerID(publicKey: session.remoteIdentity)
        links[d].dialled = peer
        links[d].holePunch = true
        links[d].deadline = now + HolePunchSession.connectMilliseconds
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

    /// The direct attempt failed: the session says whether to start over.
    func holePunchFailed(_ reason: String) {
        holePunch.direct = -1
        let next = holePunch.session.failed()
        guard next != .end(.attemptsUsed) else {
            return holePunchEnd("no direct connection after " + String(holePunch.session.attempts) + " attempt(s), the last: " + reason)
        }
        if !holePunch.session.initiator { log("hole punch: attempt failed: " + reason) }
        holePunchDo(next)
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
        log("hole punch: " + what + address.text + " (attempt " + String(holePunch.session.attempts) + ")")
    }

    func closeHolePunchSocket() {
        if holePunch.socket >= 0 { Net.close(holePunch.socket) }
        holePunch.socket = -1
    }

    func holePunchStream(_ v: Int) -> Int? {
        holePunch.stream == 0 ? nil : stream(v, holePunch.stream)
    }
}
