/// Who gets a slot when the connection table is full (security review findings 1 and 2), sans-IO: the table of what
/// each slot is (`Table`, kept by the node beside its connections: the core's state, not a copy of the driver's)
/// goes in, the slot a newcomer from `source` replaces, or none, comes out. No clock,
/// no sockets: the simulator floods it with thousands of hostile connections from a seed (AdmissionSimulationTests).
///
/// The rules, in order:
/// - Never replaced: our own dials, and a connection whose pairing request proved the code for the open window
///   (nobody without the code can reach that state, so no flood can hold a slot this way).
/// - Fair between sources (an IPv4 /32 or IPv6 /64): a newcomer whose source already holds its share replaces one of
///   that source's own, or is refused; otherwise the heaviest source over its share gives one up, and only then
///   anyone. The share applies only under pressure: several devices behind one NAT pair while there is room.
/// - Among the replaceable: an unfinished handshake before an established connection; then the least handshake
///   progress; then the one stuck longest (whose handshake or stream data last moved longest ago). Not the oldest:
///   under a flood the oldest unfinished connection is the real joiner, which moves every round trip, while a flood
///   connection stops after its first bytes.
public enum Admission {
    /// What the decision reads of one slot.
    public struct Slot {
        /// Accepted from a listener (not dialled by us): subject to the idle timeout and to eviction.
        public var inbound = false
        /// Its pairing request proved the code for the open window.
        public var proven = false
        public var established = false
        /// How far its handshake has come (`SecureConnection.progress`; one that has sent nothing yet counts as having
        /// agreed on the security protocol, so a dialler one round trip away is not singled out), and when it (its
        /// handshake, or its stream data) last moved.
        public var progress = 1
        public var movedAt: UInt64 = 0
        /// The network an inbound connection comes from (IPv4 /32, IPv6 /64).
        public var source: UInt64 = 0

        public init() {}
        /// A slot just taken (a connection accepted, dialled or carried by a relay).
        public init(inbound: Bool, movedAt: UInt64) {
            self.inbound = inbound
            self.movedAt = movedAt
        }
    }

    /// The table: slots 0 to 3 (AgentLimits.maxConnections); a free slot is `Slot()`.
    public typealias Table = InlineArray<4, Slot>

    /// How replaceable a slot is, lower first, as one number: an unfinished handshake (0) before an established
    /// connection (1) in the top bits, then its handshake progress (an established one counts 0), then when it last
    /// moved (monotonic milliseconds: 56 bits last two million years). nil: never.
    static func key(_ s: Slot) -> UInt64? {
        guard s.inbound, !s.proven else { return nil }
        if s.established { return 1 << 62 | s.movedAt & (1 << 56 - 1) }
        return (UInt64(truncatingIfNeeded: s.progress) & 63) << 56 | s.movedAt & (1 << 56 - 1)
    }

    /// Whether a newcomer could get a slot by replacing someone.
    public static func hasReplaceable(_ table: Table) -> Bool { replaceable(in: table, from: nil) != nil }

    /// The slot a newcomer from `source` replaces in a full table, or nil (refused). `share`: the slots one source
    /// keeps under pressure (AgentLimits.connectionsPerSource).
    public static func victim(for source: UInt64, share: Int, in table: Table) -> Int? {
        if count(from: source, in: table) >= share { return replaceable(in: table, from: source) }
        var heaviest: UInt64? = nil
        var most = 0
        for i in 0..<4 where key(table[i]) != nil {
            let other = table[i].source
            let n = count(from: other, in: table)
            if n > most { (heaviest, most) = (other, n) }
        }
        if most >= share, let heaviest, let v = replaceable(in: table, from: heaviest) { return v }
        return replaceable(in: table, from: nil)
    }

    /// The most replaceable slot (`source` given: only that source's).
    static func replaceable(in table: Table, from source: UInt64?) -> Int? {
        var best: Int? = nil
        var bestKey = UInt64.max
        for i in 0..<4 {
            let slot = table[i]
            guard let k = key(slot), source == nil || slot.source == source, k < bestKey else { continue }
            (best, bestKey) = (i, k)
        }
        return best
    }

    /// Inbound slots from `source`.
    static func count(from source: UInt64, in table: Table) -> Int {
        var n = 0
        for i in 0..<4 where table[i].inbound && table[i].source == source { n += 1 }
        return n
    }
}
