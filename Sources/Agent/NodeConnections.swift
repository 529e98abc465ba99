import CSupport
import Crypto
import Discovery
import EventLoop
import Pairing
import Registry
import Transport
import Wire

/// The connection table: dialling, accepting (and evicting under pressure), reading, writing, dropping.
extension Node {
    // MARK: Connections

    func freeLink() -> Int? { links.firstIndex { $0.isFree } }

    /// A relayed connection (fd -1) has its carrier set by the caller, and keeps what the caller set in the slot.
    /// Not inlined: four callers, each would carry a copy of the connection's set-up.
    @inline(never)
    func setUp(_ i: Int, fd: Int32, role: SecureConnection<SystemRandom>.Role, connecting: Bool, now: UInt64) {
        let size = SecureConnection<SystemRandom>.bufferSize
        let rx = region(i, 0, size)
        let tx = region(i, size, size)
        if links[i].carrier < 0 { links[i] = Link() }
        links[i].fd = fd
        links[i].connecting = connecting
        links[i].deadline = timeouts.opened(now)
        slots[i] = Admission.Slot(inbound: role == .listener, movedAt: now)
        links[i].connection = SecureConnection(role: role, identity: identity, random: &random, rx: rx, tx: tx)
        if !connecting { start(i) }
    }

    func start(_ i: Int) {
        do { try links[i].connection!.start() } catch { drop(i, reason: "could not start: " + Self.describe(error)) }
        flush(i)
    }

    /// Starts a connection; returns its link, or nil when it failed at once (already reported).
    func dial(_ peer: Multiaddr, scope: UInt32, now: UInt64) -> Int? {
        guard let i = freeLink() else {
            connectionFailed("no free connection slot to dial " + peer.text)
            return nil
        }
        switch Net.connect(host: peer.hostText, port: peer.port, scope: scope) {
        case .failure(let e):
            connectionFailed("cannot connect to " + peer.text + ": " + e.name)
            return nil
        case .success(let fd):
            setUp(i, fd: fd, role: .dialer, connecting: true, now: now)
            // A circuit address: this connection goes to the relay; the device is reached inside it.
            links[i].expected = peer.relay ?? peer.peer
            links[i].toRelay = peer.relay != nil
            links[i].dialled = peer
            return i
        }
    }

    func finishConnect(_ i: Int) {
        if let error = Net.connectResult(links[i].fd) {
            drop(i, reason: "connect failed: " + error.name)
            return
        }
        links[i].connecting = false
        connected(i)
        start(i)
    }

    func acceptAll(_ listener: Int32, now: UInt64) {
        for _ in 0..<AgentLimits.maxConnections {
            guard freeLink() != nil || hasEvictableLink else { return }
            switch Net.accept(listener) {
            case .none: return
            case .failed(let e):
                log("accept failed: " + e.name)
                return
            case .connection(let fd, _, let source):
                guard let i = freeLink() ?? evict(for: source, now: now) else {
                    Net.close(fd)
                    return
                }
                setUp(i, fd: fd, role: .listener, connecting: false, now: now)
                slots[i].source = source
            }
        }
    }

    /// Whether a newcomer could get a slot by replacing someone (`Admission`).
    var hasEvictableLink: Bool { Admission.hasReplaceable(slots) }

    /// Frees a slot for a newcomer from `source` when the table is full, so that nobody — a burst of silent
    /// connections, or peers that finish the handshake and then only send keep-alives — can hold the table against
    /// a real joiner; `Admission` decides which. Counted, and logged once per interval.
    func evict(for source: UInt64, now: UInt64) -> Int? {
        let pick = Admission.victim(for: source, share: AgentLimits.connectionsPerSource, in: slots)
        guard let i = pick else { return nil }
        if slots[i].established { establishedEvictions += 1 }
        dropQuietly(i)  // its handshake ends with it (release): an outstanding challenge no longer counts
        evictions += 1
        if now >= evictionLoggedAt + AgentLimits.evictionLogIntervalMilliseconds { logEvictions(now) }
        return i
    }

    /// The first eviction of a burst is logged at once, the rest of it as one count when the interval ends.
    func logEvictions(_ now: UInt64) {
        log("connection table full: dropped " + String(evictions) + " connection(s) that had not proved the code ("
            + String(evictions - establishedEvictions) + " in their handshake, " + String(establishedEvictions)
            + " established) to make room for new connections")
        evictions = 0
        establishedEvictions = 0
        evictionLoggedAt = now
    }

    func readFrom(_ i: Int) {
        // Bounded: at most a few reads per wake-up so one busy peer cannot starve the others.
        for _ in 0..<4 {
            guard !links[i].isFree else { return }
            let space = links[i].connection!.receiveSpace()
            guard space.count > 0 else {
                drop(i, reason: "peer overran the receive buffer")
                return
            }
            switch Net.read(links[i].fd, into: space) {
            case .bytes(let n):
                links[i].connection!.received(n)
                process(i)
                noteProgress(i)
            case .wouldBlock:
                return
            case .closed:
                drop(i, reason: slots[i].established ? "peer closed the connection" : "peer closed the connection during the handshake")
                return
            case .failed(let e):
                drop(i, reason: "read failed: " + e.name)
                return
            }
        }
    }

    /// Its handshake advanced: it moved (what eviction looks at).
    func noteProgress(_ i: Int) {
        if !links[i].isFree, let progress = links[i].connection?.progress, progress > slots[i].progress {
            slots[i].progress = progress
            slots[i].movedAt = now
        }
    }

    func flush(_ i: Int) {
        guard !links[i].isFree, let pending = links[i].connection?.pendingOutput, !pending.isEmpty else { return }
        if links[i].carrier >= 0 { return forward(i) }
        switch Net.write(links[i].fd, pending) {
        case .bytes(let n): links[i].connection!.sent(n)
        case .wouldBlock, .closed: break
        case .failed(let e): drop(i, reason: "write failed: " + e.name)
        }
    }

    /// Closes a connection with one log line and tells the task.
    func drop(_ i: Int, reason: String) {
        guard !links[i].isFree else { return }
        if links[i].kad != nil { return dropQuietly(i) }
        if links[i].toRelay && links[i].joiner == nil { return relayLost(i, reason: reason) }
        if links[i].holePunch {
            // The other NAT let nothing through: the connect timed out (tick's text names the handshake's timeout).
            let timedOut = links[i].connecting && now >= links[i].deadline
            holePunchLinkGone(i, timedOut ? "no answer in " + String(HolePunchSession.connectMilliseconds / 1000) + " s" : reason)
            return dropQuietly(i)
        }
        let wasEstablished = slots[i].established
        let joiner = links[i].joiner  // the link's exchange outlives it just long enough to be told
        let (paired, address, candidate, relayed) = (links[i].paired, links[i].dialled, links[i].candidate, links[i].carrier >= 0)
        links[i].joiner = nil
        warnUnconfirmed(i)
        release(i, reason)
        // Said once: a candidate's end is the joiner's "candidate failed" line (with the address); a paired
        // connection's close after PAIRED is no news.
        if outcome == nil && joiner == nil && !paired { log("connection dropped: " + reason) }
        switch task {
        case .join:
            guard joiner != nil else { return }
            if let address { noteRelayFailure(address, reason) }
            candidateEnded(joiner, reason: Self.at(address, wasEstablished ? "connection lost: " + reason : reason))
            if relayed { retryThroughRelay(candidate) }
        case .ping:
            if outcome == nil { connectionFailed(wasEstablished ? "connection lost: " + reason : reason) }
        case .serve:
            break
        }
    }

    /// "/ip4/…/tcp/…: what" for a dialled address (without its /p2p part, which the "trying" line showed).
    static func at(_ address: Multiaddr?, _ what: String) -> String {
        guard var a = address else { return what }
        a.peer = nil
        return a.text + ": " + what
    }

    func closeHandshake(_ i: Int, _ s: Int) {
        guard case .serve(var window?, let echo) = task, var hs = links[i].streams[s].handshake else { return }
        window.connectionClosed(&hs)
        links[i].streams[s].handshake = nil
        task = .serve(window: window, echo: echo)
    }

    /// Link `i` dialled a candidate that will not pair: close it (no further callbacks) and tell the joiner.
    func endCandidate(_ i: Int, reason: String) {
        let joiner = links[i].joiner
        links[i].joiner = nil
        dropQuietly(i)
        candidateEnded(joiner, reason: reason)
    }

    /// A candidate's attempt ended without pairing; `joiner` is its exchange (nil: it never got a connection).
    func candidateEnded(_ joiner: JoinerSession?, reason: String) {
        guard outcome == nil, case .join(_, let peer) = task else { return }
        var step = JoinerStep()
        if var joiner {
            step = joiner.connectionLost(now: Instant(milliseconds: now))
            joiner.wipe()
        }
        if step.proofExposed, countUnprovenPeer() { return }
        if case .failed(let why)? = step.event {
            // The authentic device (it had proved the code) went away mid-exchange: no other candidate can be it.
            events.emit(.failed(reason: why.description))
            finish(.failed(why.description))
        } else if peer != nil {
            // With one explicit peer there is no other candidate: report and stop.
            finish(.failed(reason))
        } else {
            candidateFailed(reason)
        }
    }

    func connectionFailed(_ reason: String) {
        switch task {
        case .join:
            candidateEnded(nil, reason: reason)
        case .ping:
            finish(.failed(reason))
        case .serve:
            break
        }
    }
}
