import CSupport
import Crypto
import Discovery
import EventLoop
import Pairing
import Transport
import Wire

/// Circuit relay v2 (libp2p/specs relay/circuit-v2.md), the client side of both roles. The board, when no port
/// mapping makes it reachable, reserves a slot on a relay and advertises the circuit address in its sealed record;
/// the relay opens a `stop` stream to it for each peer that connects, and that stream then carries an ordinary
/// libp2p connection (Noise end to end, so the relay sees only ciphertext) as a link of the table without a socket.
/// The joiner dials a circuit address by connecting to the relay, asking it (`hop` CONNECT) for the board, and
/// running its connection inside that stream.
extension Node {
    // MARK: Board: the reservation

    /// No mapping, no public address of its own, a DHT path: devices elsewhere can reach the board only through a
    /// relay.
    var needsRelay: Bool {
        guard dhtSettings != nil, mappedAddress == nil, mappablePort != nil else { return false }
        return !listening.contains { l in Self.dialableAddresses(l).contains { AddressScope.of($0.host) == .global } }
    }

    /// A DHT peer said (identify) that it serves circuit relay.
    func noteRelay(_ i: Int) {
        guard var address = links[i].dialled, address.relay == nil else { return }
        address.peer = links[i].expected
        if address.peer != nil { relay.note(address) }
    }

    /// Dials the next relay not yet asked; false when none is left.
    func startReservation(_ now: UInt64) -> Bool {
        for _ in 0..<4 {
            guard let address = relay.next() else { return false }
            relay.asked += 1
            guard let i = dialQuietly(address, now: now) else { continue }
            links[i].toRelay = true
            links[i].reservation = true
            relay.link = i
            relay.current = address
            return true
        }
        return false
    }

    /// The relay granted the reservation.
    func reserved(_ i: Int, _ s: Int) {
        try? links[i].connection!.finish(links[i].streams[s].id)
        releaseStream(i, s)
        relay.reserved = true
        relay.decided = true
        log("relay: reservation on " + (relay.circuit?.text ?? "") + "; devices elsewhere can reach this board through it")
    }

    /// The reservation's connection ended or the relay refused: say so, and do what `DHTSchedule.reservationEnded`
    /// says (ask the next relay; once the record is stored, a lost reservation's circuit leads nowhere, so the record
    /// goes out again, a higher sequence, with the next relay that takes one).
    func relayLost(_ i: Int, reason: String) {
        let current = links[i].reservation && relay.link == i
        let address = links[i].dialled
        dropQuietly(i)
        guard current else { return }
        relay.link = -1
        let lost = relay.reserved
        log("relay: " + Self.at(address, (lost ? "lost the reservation: " : "no reservation: ") + reason))
        relay.reserved = false
        switch dht?.schedule.reservationEnded(held: lost) ?? .nothing {
        case .nothing:
            break
        case .askNext:
            if !startReservation(now) { relayNone() }
        case .republish:
            relay.decided = false
            guard startReservation(now) else { return log("relay: no other relay to ask; the record keeps the lost one until the window closes") }
            dht?.schedule.reserving(until: now + RelayState.waitMilliseconds)
            dht?.sequence += 1
        }
    }

    /// No relay took a reservation (or none of the DHT peers offers one): the record goes out without one.
    func relayNone() {
        relay.decided = true
        log("relay: " + (relay.asked == 0 ? "none of the DHT peers offers circuit relay" : "none of the " + String(relay.asked) + " relay(s) asked took a reservation")
            + "; only devices that can reach this network directly can pair")
    }

    /// The window ends: give the reservation back. A connection it carries may still be finishing its pairing: the
    /// relay connection ends (in tick, from the next turn of the loop) once it carries nothing.
    func stopRelay() {
        let i = relay.link
        relay = RelayState()
        guard i >= 0, !links[i].isFree else { return }
        links[i].reservation = false
        links[i].deadline = 0
    }

    // MARK: The hop stream (both roles)

    /// The stream agreed on the hop protocol: reserve (board) or connect to the device (joiner).
    func hopSend(_ i: Int, _ s: Int) {
        let buffer = links[i].streams[s].buffer
        let n = links[i].circuitTarget.map { CircuitRelay.connect(to: $0, into: buffer) } ?? CircuitRelay.reserve(into: buffer)
        write(i, links[i].streams[s].id, UnsafeRawBufferPointer(rebasing: buffer[0..<(n ?? 0)]))
    }

    func hopInput(_ i: Int, _ s: Int) {
        let m: CircuitRelay.Message
        switch Self.relayRead(.hop, links[i].streams[s].received) {
        case .failure: return hopRefused(i, s, reason: "the relay did not answer")
        case .success(.needMore): return
        case .success(.message(let message, let used)):
            m = message
            consume(i, s, used)
        }
        guard m.type == 2, m.isOK else { return hopRefused(i, s, reason: "the relay refused: " + Self.statusText(m.status)) }
        if links[i].reservation { return reserved(i, s) }
        circuitOpened(i, s)
    }

    /// The relay refused or went away before answering: a joiner tries its other candidates, a board another relay.
    func hopRefused(_ i: Int, _ s: Int, reason: String) {
        resetStream(i, s)
        if links[i].joiner != nil, let address = links[i].dialled {
            noteRelayFailure(address, reason)
            return endCandidate(i, reason: Self.at(address, reason))
        }
        if links[i].reservation { relayLost(i, reason: reason) }
    }

    static func relayRead(_ kind: CircuitRelay.Kind, _ input: UnsafeRawBufferPointer) -> Result<CircuitRelay.Step, CircuitRelay.Error> {
        do { return .success(try CircuitRelay.read(kind, input)) } catch { return .failure(error) }
    }

    /// What the codes a joiner meets mean; the others by number (the spec's table: 200 reservation refused, 201
    /// resource limit exceeded, 202 permission denied).
    static func statusText(_ status: UInt64) -> String {
        switch CircuitRelay.Status(rawValue: status) {
        case .connectionFailed?: "it could not reach the device"
        case .noReservation?: "the device holds no reservation there (its window closed)"
        default: "status " + String(status)
        }
    }

    // MARK: Relayed connections

    /// Joiner: the relay reached the device; the stream now carries our connection to it, with the candidate's
    /// exchange moved onto that connection.
    func circuitOpened(_ i: Int, _ s: Int) {
        guard let v = freeLink() else { return endCandidate(i, reason: Self.at(links[i].dialled, "no free connection slot for the relayed connection")) }
        links[v].expected = links[i].circuitTarget
        links[v].dialled = links[i].dialled
        links[v].joiner = links[i].joiner
        links[v].candidate = links[i].candidate
        links[i].joiner = nil
        carry(v, in: i, s, role: .dialer, now: now)
    }

    /// Board: the relay's stop stream says who connects through it. While a window is open, accept it as an
    /// inbound connection of its own (same eviction rules as any other, the source being its peer id).
    func stopInput(_ i: Int, _ s: Int) {
        let m: CircuitRelay.Message
        switch Self.relayRead(.stop, links[i].streams[s].received) {
        case .failure: return resetStream(i, s)
        case .success(.needMore): return
        case .success(.message(let message, let used)):
            m = message
            consume(i, s, used)
        }
        let id = links[i].streams[s].id
        guard m.type == 0, let peer = m.peer else {
            stopAnswer(i, id, .unexpectedMessage)
            return resetStream(i, s)
        }
        var source: UInt64 = 0
        for k in 0..<8 { source = source << 8 | UInt64(peer.publicKey.bytes[k]) }
        guard case .serve(_?, _) = task, outcome == nil, let v = freeLink() ?? evict(for: source, now: now) else {
            stopAnswer(i, id, .resourceLimitExceeded)
            return resetStream(i, s)
        }
        stopAnswer(i, id, .ok)
        links[v].dialled = relay.circuit  // its address in log lines: the relay's circuit
        carry(v, in: i, s, role: .listener, now: now)
        slots[v].source = source
    }

    func stopAnswer(_ i: Int, _ id: UInt32, _ status: CircuitRelay.Status) {
        var out = FixedBytes<16>()
        let n = out.withUnsafeMutableBytes { CircuitRelay.stopStatus(status, into: $0) } ?? 0
        out.withUnsafeBytes { write(i, id, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// Stream `s` of link `i` now carries connection `v` (a free slot: what the caller set there stays); bytes that
    /// came behind the relay's message are that connection's first.
    func carry(_ v: Int, in i: Int, _ s: Int, role: SecureConnection<SystemRandom>.Role, now: UInt64) {
        links[i].streams[s].kind = .active(.circuit)
        links[i].streams[s].carried = v
        links[v].carrier = i
        links[v].carrierStream = links[i].streams[s].id
        setUp(v, fd: -1, role: role, connecting: false, now: now)
        guard !links[i].isFree, links[i].streams[s].count > 0 else { return }
        let rest = links[i].streams[s].received
        links[i].streams[s].count = 0  // first: delivering may close this stream
        deliver(v, rest)
    }

    /// Bytes for relayed connection `v` arrived in its carrier's stream.
    @inline(never)
    func deliver(_ v: Int, _ bytes: UnsafeRawBufferPointer) {
        guard v >= 0, !links[v].isFree, bytes.count > 0 else { return }
        let space = links[v].connection!.receiveSpace()
        guard bytes.count <= space.count else { return drop(v, reason: "peer overran the receive buffer") }
        space.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        links[v].connection!.received(bytes.count)
        process(v)
        noteProgress(v)
    }

    /// A relayed connection's output goes into its carrier's stream, up to 16 KiB per turn of the loop; what does
    /// not fit (a full buffer, the stream's send window) waits for a later turn (the loop flushes relayed
    /// connections every turn).
    func forward(_ i: Int) {
        let c = links[i].carrier
        guard !links[c].isFree, let pending = links[i].connection?.pendingOutput else { return }
        let n = min(pending.count, 16 * 1024)
        do { try links[c].connection!.write(links[i].carrierStream, UnsafeRawBufferPointer(rebasing: pending[0..<n])) } catch { return }
        links[i].connection!.sent(n)
        flush(c)
    }

    /// The relay finished or reset stream `s`: a circuit's connection is over, a request unanswered. False: the stream
    /// is not a relay's.
    func relayStreamEnded(_ i: Int, _ s: Int) -> Bool {
        switch links[i].streams[s].kind {
        case .active(.circuit):
            let v = links[i].streams[s].carried
            releaseStream(i, s)
            if v >= 0 { drop(v, reason: "the relay ended the relayed connection") }
        case .active(.hop), .negotiatingOut(_, then: .hop): hopRefused(i, s, reason: "the relay did not answer")
        default: return false
        }
        return true
    }

    func carries(_ i: Int) -> Bool {
        for s in 0..<4 where links[i].streams[s].carried >= 0 { return true }
        return false
    }

    /// Before link `i` goes: a relayed connection closes its stream in the carrier (and a joiner's connection to the
    /// relay, which existed only for it); a carrier takes the connections inside it along.
    func detach(_ i: Int) {
        let c = links[i].carrier
        if c >= 0, let s = stream(c, links[i].carrierStream) {
            links[c].streams[s].carried = -1
            resetStream(c, s)
            if links[c].toRelay && !links[c].reservation { dropQuietly(c) } else { flush(c) }
        }
        links[i].toRelay = false  // what it carries does not drop it again
        for s in 0..<4 {
            let v = links[i].streams[s].carried
            links[i].streams[s].carried = -1
            if v >= 0 { drop(v, reason: "the connection to the relay ended") }
        }
    }

    /// Joiner: the relay dropped a relayed connection before the device had proved the code (or before it answered):
    /// the attempt is over, but the path may well work a second time (a relay restarting, hitting a limit, a hiccup
    /// on its uplink), so the candidate goes back in the queue, once.
    func retryThroughRelay(_ candidate: Candidate?) {
        guard outcome == nil, case .join(_, nil) = task, var c = candidate, !c.retried else { return }
        c.retried = true
        discovery?.requeue(c)
    }

    /// Joiner: an attempt through a relay failed; the expiry line names it.
    func noteRelayFailure(_ address: Multiaddr, _ reason: String) {
        guard let r = address.relay else { return }
        relayFailure = Multiaddr(host: address.host, port: address.port, peer: r).text + " failed: " + reason
    }

}
