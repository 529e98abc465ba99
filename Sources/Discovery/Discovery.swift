import EventLoop
import Pairing
import Transport

/// Both discovery paths behind one face for the agent's loop (DESIGN §4: both at once, first hit wins).
/// mDNS runs entirely in here (Avahi's watches and timeouts); the DHT path needs libp2p connections, which the
/// node owns, so the node drives the Kademlia lookups and only hands their candidates over here.
public final class Discovery {
    public let mdns: MDNS?
    private let avahi: AvahiLoop?
    /// Candidates from the DHT path (the node pushes them after opening an advertisement).
    public var fromDHT = CandidateQueue()

    public init(mdns: Bool, log: @escaping (String) -> Void) {
        if mdns {
            let loop = AvahiLoop()
            avahi = loop
            self.mdns = MDNS(loop: loop, log: log)
            self.mdns?.start()
        } else {
            avahi = nil
            self.mdns = nil
        }
    }

    // MARK: Loop

    public func register(into set: inout PollSet) { avahi?.register(into: &set) }

    public func dispatch(_ set: PollSet, now: UInt64) {
        avahi?.dispatch(set, now: now)
        mdns?.tick(now: now)
    }

    public var nextDeadline: UInt64? {
        var next = avahi?.nextDeadline
        if let d = mdns?.nextDeadline { next = min(next ?? d, d) }
        return next
    }

    // MARK: Roles

    /// The initiator's window opened: advertise it.
    public func publish(name: String, port: UInt16, text: ServiceText) {
        mdns?.publish(name: name, port: port, text: text)
    }

    /// The window closed: stop advertising it.
    public func withdraw() { mdns?.withdraw() }

    /// The joiner starts looking for `sid`.
    public func browse(for sid: SessionID) { mdns?.browse(for: sid) }

    public func stopBrowsing() {
        mdns?.stopBrowsing()
        fromDHT.removeAll()
    }

    /// The next place to try, from whichever path answered first, passing over candidates whose peer id `skipping`
    /// says is busy (they stay queued, in order).
    public func nextCandidate(skipping busy: (PeerID?) -> Bool = { _ in false }) -> Candidate? {
        if let c = mdns?.found.pop(skipping: busy) { return c }
        return fromDHT.pop(skipping: busy)
    }

    public func hasCandidate(skipping busy: (PeerID?) -> Bool) -> Bool {
        mdns?.found.hasCandidate(skipping: busy) == true || fromDHT.hasCandidate(skipping: busy)
    }

    /// A candidate goes back to the end of its path's queue, to be tried again after the others.
    public func requeue(_ candidate: Candidate) {
        if candidate.source == .mdns { _ = mdns?.found.push(candidate) } else { _ = fromDHT.push(candidate) }
    }
}
