import Transport

/// A place where the pairing peer may be: an address to dial and the identity it must prove.
public struct Candidate: Equatable {
    public enum Source: Equatable { case mdns, dht }

    public var address: Multiaddr
    /// Interface index for an IPv6 link-local address (mDNS gives it with the answer); 0 otherwise.
    public var scope: UInt32
    public var source: Source

    public init(address: Multiaddr, scope: UInt32 = 0, source: Source) {
        self.address = address
        self.scope = scope
        self.source = source
    }

    public var sourceName: String { source == .mdns ? "mDNS" : "DHT" }
}

/// Candidates not yet tried, first come first served, in fixed storage. Discovery keeps producing while the
/// joiner dials; duplicates (the same address announced twice) are dropped, and when the queue is full new
/// candidates are dropped too: the joiner works through the queue long before a window expires.
public struct CandidateQueue {
    /// Enough for every address of a few answering devices (IPv4 + IPv6 per interface).
    public static let capacity = 16

    private var items = InlineArray<16, Candidate?>(repeating: nil)
    private var head = 0
    public private(set) var count = 0

    public init() {}

    /// Adds a candidate; false when it was already queued or the queue is full.
    @discardableResult
    public mutating func push(_ candidate: Candidate) -> Bool {
        guard count < Self.capacity else { return false }
        for k in 0..<count where items[(head + k) % Self.capacity] == candidate { return false }
        items[(head + count) % Self.capacity] = candidate
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

    public mutating func removeAll() {
        while pop() != nil {}
    }
}
