import Crypto
import Transport
import Wire

/// An iterative Kademlia lookup toward a key (libp2p kad-dht spec): keep the closest peers heard of, ask the
/// closest not yet asked, at most α at a time, until the k closest known have all answered or failed.
/// Sans-IO and fixed-size: the node dials and sends; this only decides whom to ask next.
///
/// Distance is XOR between SHA-256(key) and SHA-256(peer id bytes), as libp2p defines it.
public struct KadLookup {
    /// Requests in flight at once (the spec's α).
    public static let alpha = 3
    /// Peers that count as "closest" (the spec's k, also the replication factor for PUT_VALUE).
    public static let k = 20
    /// The table: k plus room for answers not yet sorted out; a closer peer replaces the farthest unasked one.
    public static let capacity = 32

    public enum State: Equatable { case unasked, asking, answered, failed }

    public struct Entry {
        public var peer: KadPeer
        public var distance: FixedBytes<32>
        public var state: State
    }

    public let target: FixedBytes<32>
    private var entries = InlineArray<32, Entry?>(repeating: nil)
    public private(set) var count = 0

    public init(key: UnsafeRawBufferPointer) {
        target = SHA256.hash(key)
    }

    public func entry(_ i: Int) -> Entry? { entries[i] }

    public static func distance(_ a: FixedBytes<32>, _ b: FixedBytes<32>) -> FixedBytes<32> {
        var d = FixedBytes<32>()
        for i in 0..<32 { d[i] = a[i] ^ b[i] }
        return d
    }

    static func less(_ a: FixedBytes<32>, _ b: FixedBytes<32>) -> Bool {
        for i in 0..<32 where a[i] != b[i] { return a[i] < b[i] }
        return false
    }

    /// Adds a peer heard of (a seed or a response's closerPeers). Returns false when it was known or is farther
    /// than everything the full table holds.
    @discardableResult
    public mutating func add(_ peer: KadPeer, excluding own: PeerID? = nil) -> Bool {
        if let own, peer.id == own { return false }
        for i in 0..<count where entries[i]!.peer.id == peer.id { return false }
        let distance = Self.distance(target, peer.id.bytes.withUnsafeBytes { SHA256.hash($0) })
        let entry = Entry(peer: peer, distance: distance, state: .unasked)
        if count < Self.capacity {
            entries[count] = entry
            count += 1
            return true
        }
        // Full: replace the farthest unasked entry if the newcomer is closer.
        var worst: Int? = nil
        for i in 0..<count where entries[i]!.state == .unasked {
            if worst == nil || Self.less(entries[worst!]!.distance, entries[i]!.distance) { worst = i }
        }
        guard let w = worst, Self.less(distance, entries[w]!.distance) else { return false }
        entries[w] = entry
        return true
    }

    /// Indices of entries in order of distance (closest first); failed ones excluded.
    func ranked(_ out: inout InlineArray<32, Int>) -> Int {
        var n = 0
        for i in 0..<count where entries[i]!.state != .failed {
            out[n] = i
            n += 1
        }
        // Insertion sort: n ≤ 32.
        if n > 1 {
            for a in 1..<n {
                var b = a
                while b > 0 && Self.less(entries[out[b]]!.distance, entries[out[b - 1]]!.distance) {
                    let t = out[b]
                    out[b] = out[b - 1]
                    out[b - 1] = t
                    b -= 1
                }
            }
        }
        return n
    }

    public var inFlight: Int {
        var n = 0
        for i in 0..<count where entries[i]!.state == .asking { n += 1 }
        return n
    }

    /// The next peer to ask (marked asking), or nil: α in flight, or nobody among the k closest left to ask.
    public mutating func next() -> Int? {
        guard inFlight < Self.alpha else { return nil }
        var order = InlineArray<32, Int>(repeating: 0)
        let n = ranked(&order)
        for j in 0..<min(n, Self.k) where entries[order[j]]!.state == .unasked {
            entries[order[j]]!.state = .asking
            return order[j]
        }
        return nil
    }

    public mutating func answered(_ i: Int) { if i < count { entries[i]!.state = .answered } }
    public mutating func failed(_ i: Int) { if i < count { entries[i]!.state = .failed } }

    /// Done when nothing is in flight and none of the k closest (non-failed) peers is left to ask.
    public var isFinished: Bool {
        guard inFlight == 0 else { return false }
        var order = InlineArray<32, Int>(repeating: 0)
        let n = ranked(&order)
        for j in 0..<min(n, Self.k) where entries[order[j]]!.state == .unasked { return false }
        return true
    }

    /// Some peer answered this lookup (the k closest that did are ranked only when a PUT needs them).
    @inline(__always)
    public var anyAnswered: Bool {
        for i in 0..<count where entries[i]!.state == .answered { return true }
        return false
    }

    /// The k closest peers that answered: where PUT_VALUE goes.
    public func closestAnswered(_ out: inout InlineArray<20, Int>) -> Int {
        var order = InlineArray<32, Int>(repeating: 0)
        let n = ranked(&order)
        var m = 0
        for j in 0..<n where m < Self.k && entries[order[j]]!.state == .answered {
            out[m] = order[j]
            m += 1
        }
        return m
    }

    /// Marks a peer for another round of requests (PUT_VALUE after FIND_NODE).
    public mutating func reset(_ i: Int) { if i < count { entries[i]!.state = .unasked } }
}
