/// When the node gives up on a connection that has gone quiet, sans-IO: a connection's deadline after it opened or
/// last moved, and what its deadline passing means. No clock and no sockets: the node keeps each link's deadline,
/// asks here when it passes, and carries the verdict out (with the log line it names).
///
/// The rules (security review findings 1 and 3):
/// - A connection has `handshake` to finish its handshake, from the moment it opened; progress inside the
///   handshake does not extend it, so a peer that drips bytes gains nothing.
/// - Once established, only stream data counts as activity (yamux pings and window updates never reach the node):
///   an inbound peer that sends none for `idle` only holds a slot; a device we dialled that answers nothing for
///   `handshake` has gone silent, and the joiner moves on to its next candidate.
/// - A connection to a relay lives while it holds our reservation or carries a relayed connection.
/// Kademlia requests keep their own deadline (NodeDHT) and are not asked about here.
public struct LinkTimeouts {
    public let handshake: UInt64
    public var idle: UInt64 { handshake * AgentLimits.idleTimeoutFactor }

    public init(handshake: UInt64) { self.handshake = handshake }

    /// What the node reads of a link whose deadline passed.
    public struct Facts {
        public var established = false
        public var inbound = false
        /// Its TCP connect has not completed.
        public var connecting = false
        /// A connection of ours to a relay that no joiner's exchange runs on.
        public var toRelay = false
        public init(established: Bool, inbound: Bool, connecting: Bool, toRelay: Bool) {
            (self.established, self.inbound, self.connecting, self.toRelay) = (established, inbound, connecting, toRelay)
        }
    }

    public enum Verdict: Equatable {
        case keep
        /// A TCP connect nobody answered (a black hole, a host that is off): not a handshake that stalled.
        case noAnswer
        case handshakeStalled
        /// Inbound and established, no stream data for `idle`.
        case idle
        /// Dialled and established, the device answered nothing for `handshake` (a spoofed candidate that goes
        /// silent after the handshake).
        case silent
        /// A relay connection that holds and carries nothing: closed without a word.
        case unneeded
    }

    /// The deadline of a connection that opened at `now`.
    @inline(__always)
    public func opened(_ now: UInt64) -> UInt64 { now + handshake }

    /// The deadline of an established connection that moved (finished its handshake, or carried stream data) at `now`.
    @inline(__always)
    public func moved(_ now: UInt64, inbound: Bool) -> UInt64 { now + (inbound ? idle : handshake) }

    /// What a link's deadline passing means at `now` (`.keep` before it). `holdsRelay`: it holds our reservation or
    /// carries a connection (asked only of a relay connection: it scans the table).
    @inline(__always)
    public static func verdict(now: UInt64, deadline: UInt64, _ link: Facts, holdsRelay: @autoclosure () -> Bool) -> Verdict {
        guard now >= deadline else { return .keep }
        if !link.established { return link.connecting ? .noAnswer : .handshakeStalled }
        if link.toRelay { return holdsRelay() ? .keep : .unneeded }
        return link.inbound ? .idle : .silent
    }
}
