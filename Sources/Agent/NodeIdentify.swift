import CSupport
import Crypto
import Discovery
import Transport
import Wire

/// The public addresses DHT peers report seeing the board's connections come from (identify's observedAddr), per
/// window. Only the host counts: our dials leave from ephemeral ports, so the port a peer sees is one nobody else
/// can reach. An address counts once two peers agree (go-libp2p waits for four, over a node's lifetime; a window
/// talks to a few peers for a few minutes), so one lying peer cannot steer what the board advertises.
struct ObservedAddresses {
    static let confirmations = 2
    var hosts = InlineArray<4, Multiaddr.Host?>(repeating: nil)
    var counts = InlineArray<4, Int>(repeating: 0)

    /// Records one report; loopback, private and link-local reports (a peer on our own network) say nothing about
    /// the router. A fifth distinct address is dropped: four differing reports already mean no answer.
    mutating func note(_ address: Multiaddr) {
        guard AddressScope.of(address.host) == .global else { return }
        for k in 0..<4 {
            if hosts[k] == address.host || hosts[k] == nil {
                hosts[k] = address.host
                counts[k] += 1
                return
            }
        }
    }

    /// The address most peers agree on, once confirmed.
    var confirmed: Multiaddr.Host? {
        var best: Int? = nil
        for k in 0..<4 where counts[k] >= Self.confirmations && (best == nil || counts[k] > counts[best!]) { best = k }
        return best.flatMap { hosts[$0] }
    }
}

extension Node {
    /// A peer asked who we are: one answer (our key, what this connection may negotiate, and where its connection
    /// comes from as we see it), then our end of the stream closes.
    func answerIdentify(_ i: Int, _ s: Int) {
        let observed = peerAddress(i)
        let protocols = offered(i)
        let id = links[i].streams[s].id
        let buffer = links[i].streams[s].buffer
        let n = Identify.answer(
            publicKey: identity.publicKey, observed: observed,
            protocols: protocols.list, protocolCount: protocols.count, into: buffer)
        guard let n else { return resetStream(i, s) }
        write(i, id, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        guard !links[i].isFree else { return }
        try? links[i].connection!.finish(id)
        releaseStream(i, s)
    }

    /// On a DHT request's connection while the board is still finding its closest peers: ask the peer where it sees
    /// us (answered in parallel with the Kademlia request; the record is sealed only after the lookup).
    func askIdentify(_ i: Int) {
        // The board while it finds its closest peers, the joiner while it looks for the record (and the relay it
        // dials): a hole punch names the address they agree on.
        guard let phase = dht?.schedule.phase, phase == .finding || phase == .getting || phase == .found, let s = freeStream(i) else { return }
        openStream(i, proposal: Protocols.identify, purpose: .identifyClient)
        // The fourth stream buffer: the Kademlia stream uses the first three.
        if links[i].streams[s].id != 0 { links[i].streams[s].buffer = streamBuffer(i, 3) }
    }

    func identifyInput(_ i: Int, _ s: Int) {
        let step: Identify.Step
        do { step = try Identify.read(links[i].streams[s].received) } catch {
            return identifyDone(i, s)
        }
        guard case .answer(let observed, let relay, _) = step else { return }
        if let observed { observedAddresses.note(observed) }
        if relay { noteRelay(i) }
        identifyDone(i, s)
    }

    /// The request this connection exists for may have been answered already: then it has nothing left to do.
    func identifyDone(_ i: Int, _ s: Int) {
        resetStream(i, s)
        if links[i].kad?.done == true { dropQuietly(i) }
    }

    /// Where connection `i` comes from (or goes to), as the socket says.
    func peerAddress(_ i: Int) -> Multiaddr? {
        if links[i].carrier >= 0 { return links[i].dialled }  // relayed: the circuit it came through
        var slot = FixedBytes<20>()
        var port: UInt16 = 0
        let family = slot.withUnsafeMutableBytes { sd_peer_address(links[i].fd, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &port) }
        return family == 0 ? nil : Multiaddr(host: slot.withUnsafeBytes { Self.host($0) }, port: port)
    }

    /// One 17-byte address slot of the C helpers (family 4 or 6, then the address).
    static func host(_ slot: UnsafeRawBufferPointer) -> Multiaddr.Host {
        if slot[0] == 4 {
            var b = FixedBytes<4>()
            for j in 0..<4 { b[j] = slot[1 + j] }
            return .ip4(b)
        }
        var b = FixedBytes<16>()
        for j in 0..<16 { b[j] = slot[1 + j] }
        return .ip6(b)
    }
}
