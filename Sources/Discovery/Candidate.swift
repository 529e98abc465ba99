import Transport

/// A place where the pairing peer may be: an address to dial and the identity it must prove.
public struct Candidate: Equatable {
    public enum Source: Equatable { case mdns, dht }

    public var address: Multiaddr
    /// Interface index for an IPv6 link-local address (mDNS gives it with the answer); 0 otherwise.
    public var scope: UInt32
    public var source: Source
    /// Put back after its connect went unanswered while other addresses waited: the next attempt waits the full
    /// timeout. Not part of what makes two candidates the same.
    public var patient = false
    /// Put back once already after the relay carrying its connection dropped it mid-exchange: not again.
    public var retried = false

    public init(address: Multiaddr, scope: UInt32 = 0, source: Source) {
        self.address = address
        self.scope = scope
        self.source = source
    }

    public static func == (a: Candidate, b: Candidate) -> Bool { a.address == b.address && a.scope == b.scope && a.source == b.source }

    public var sourceName: String { source == .mdns ? "mDNS" : "DHT" }
}

/// Candidates not yet tried, first come first served, in fixed storage. Discovery keeps producing while the
/// joiner dials; duplicates (the same address announced twice) are dropped, one peer id holds at most `perPeer`
/// places (its addresses over IPv4 and IPv6 on a couple of interfaces), and a full queue gives up its oldest untried
/// candidate for the newcomer: a LAN host that publishes many fake services before the real device cannot push the
/// real one out, since the newest answers are always kept.
public struct CandidateQueue {
    /// Enough for every address of a few answering devices (IPv4 + IPv6 per interface).
    public static let capacity = 16
    /// Every address one device advertises (`Advertisement.maxAddresses`).
    public static let perPeer = 8

    private var items = InlineArray<16, Candidate?>(repeating: nil)
    private var head = 0
    public private(set) var count = 0

    public init() {}

    private func index(_ k: Int) -> Int { (head + k) % Self.capacity }

    /// Adds a candidate; false when it was already queued or its peer already holds `perPeer` places.
    @discardableResult
    public mutating func push(_ candidate: Candidate) -> Bool {
        var samePeer = 0
        for k in 0..<count {
            guard let queued = items[index(k)] else { continue }
            if queued == candidate { return false }
            if candidate.address.peer != nil && queued.address.peer == candidate.address.peer { samePeer += 1 }
        }
        guard samePeer < Self.perPeer else { return false }
        if count == Self.capacity { _ = pop() }
        items[index(count)] = candidate
        count += 1
        return true
    }

    public mutating func pop() -> Candidate? {
        guard count > 0 else { return nil }
        let c = items[head]
        items[head] = nil
        head = (head + 1) % Self.capacity
        count -= 1
        return c
    }

    /// The oldest candidate whose peer id `busy` does not reject; the rest keep their order.
    public mutating func pop(skipping busy: (PeerID?) -> Bool) -> Candidate? {
        for k in 0..<count {
            guard let c = items[index(k)], !busy(c.address.peer) else { continue }
            for j in stride(from: k, to: 0, by: -1) { items[index(j)] = items[index(j - 1)] }
            items[head] = nil
            head = (head + 1) % Self.capacity
            count -= 1
            return c
        }
        return nil
    }

    /// Whether a candidate `busy` does not reject is waiting.
    public func hasCandidate(skipping busy: (PeerID?) -> Bool) -> Bool {
        for k in 0..<count { if let c = items[index(k)], !busy(c.address.peer) { return true } }
        return false
    }

    public mutating func removeAll() {
        while pop() != nil {}
    }
}
