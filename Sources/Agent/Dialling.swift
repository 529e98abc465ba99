import Transport

/// The joiner's dialling decisions, sans-IO: when the next candidate starts, and which unanswered connect gives up
/// its place to it. Dialling works like Happy Eyeballs (RFC 8305, section 5): the next candidate starts
/// `dialStaggerMilliseconds` after the previous one while that one is still pending, up to `parallelDials` at once.
/// So a dead address (a black hole, a stale answer) costs a quarter of a second, not a timeout. When every dial
/// slot is held by TCP connects nobody has answered for `slowConnectMilliseconds` while other candidates wait, the
/// connect that has waited longest is put back at the end of the queue, marked patient (its next try waits the full
/// timeout), to make room.
///
/// The state is when the last dial started; the table's part (`Attempts`) is read by the node in one pass. No
/// clock and no sockets: DiallingSimulationTests runs a joiner with this and a `CandidateQueue` against addresses
/// that black-hole, refuse, answer late, or belong to another device, from a seed.
public struct Dialling {
    /// What the decisions read of the connection table.
    public struct Attempts {
        /// The joiner's attempts under way (each link that holds a copy of its exchange).
        public var inFlight = 0
        /// The attempt whose TCP connect has waited longest without having been put back before (-1: none), and
        /// since when it waits.
        public var slowest = -1
        public var slowestSince = UInt64.max

        public init() {}

        /// One attempt, on link `slot`: `impatientSince` is when its connect started, if it is still connecting
        /// and was not put back before (nil otherwise).
        public mutating func add(_ slot: Int, impatientSince: UInt64?) {
            inFlight += 1
            if let since = impatientSince, since < slowestSince { (slowest, slowestSince) = (slot, since) }
        }
    }

    /// One attempt as the table holds it, for the race between a device's addresses.
    public struct Attempt {
        /// The peer id it expects to meet; through a relay, the device at the circuit's far end.
        public var expected: PeerID?
        public var circuitTarget: PeerID?
        /// Its TCP connect is still under way.
        public var connecting: Bool

        @inline(__always)
        public init(expected: PeerID?, circuitTarget: PeerID?, connecting: Bool) {
            (self.expected, self.circuitTarget, self.connecting) = (expected, circuitTarget, connecting)
        }

        /// The device it reaches.
        public var device: PeerID? { circuitTarget ?? expected }

        @inline(__always)
        func leads(to device: PeerID) -> Bool { expected == device || circuitTarget == device }
    }

    /// A device's addresses race their TCP connects. Once one attempt to `device` has connected, the device is being
    /// dialled: its other candidates wait in the queue (`holds`), and its attempts still connecting step back to it
    /// (`stepsBack`), so that one exchange per device runs at a time.
    @inline(__always)
    public static func holds(_ a: Attempt, _ device: PeerID) -> Bool { !a.connecting && a.leads(to: device) }

    @inline(__always)
    public static func stepsBack(_ a: Attempt, for device: PeerID) -> Bool { a.connecting && a.leads(to: device) }

    public enum Next: Equatable {
        /// Nothing to start now.
        case wait
        /// Start the next candidate.
        case dial
        /// Put the attempt on this link back in the queue, then start the next candidate in its place.
        case makeRoom(Int)
    }

    /// When the last dial started.
    public private(set) var lastDialAt: UInt64 = 0

    public init() {}

    /// A dial started at `now`.
    public mutating func started(now: UInt64) { lastDialAt = now }

    /// What to do at `now`. `waiting`: a candidate waits in the queue that no connected attempt's device holds
    /// (asked only when the rest allows a dial: it scans the queues, on every turn of a joiner's loop);
    /// `freeSlot`: the connection table has a free link.
    public func next(now: UInt64, _ a: Attempts, waiting: @autoclosure () -> Bool, freeSlot: Bool) -> Next {
        guard a.inFlight == 0 || now >= lastDialAt + AgentLimits.dialStaggerMilliseconds, waiting() else { return .wait }
        if a.inFlight < AgentLimits.parallelDials && freeSlot { return .dial }
        guard a.slowest >= 0, now >= a.slowestSince + AgentLimits.slowConnectMilliseconds else { return .wait }
        return .makeRoom(a.slowest)
    }

    /// When `next` can say something other than `.wait` without any other change: nil when only news (an answer,
    /// an attempt's end, a new candidate) can, since a loop woken for nothing would spin.
    public func wakeAt(_ a: Attempts, waiting: @autoclosure () -> Bool, freeSlot: Bool) -> UInt64? {
        guard a.inFlight > 0, waiting() else { return nil }
        let staggered = lastDialAt + AgentLimits.dialStaggerMilliseconds
        if a.inFlight < AgentLimits.parallelDials && freeSlot { return staggered }
        return a.slowest >= 0 ? max(staggered, a.slowestSince + AgentLimits.slowConnectMilliseconds) : nil
    }
}
