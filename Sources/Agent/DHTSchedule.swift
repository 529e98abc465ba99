import Discovery

/// The DHT path's schedule, sans-IO: which request a lookup round sends, what follows a round, and when a new round
/// starts. The node runs the rounds (a `KadLookup`, one short connection per request) and does what this says.
///
/// A board's window: find the peers closest to the record's key (FIND_NODE); if the board cannot be reached from
/// outside, wait at most `RelayState.waitMilliseconds` for a relay reservation (its address goes into the record);
/// then PUT the record to the closest peers that answered, once. A reservation lost after that sends the record out
/// again with the next relay (a higher IPNS sequence; `reservationEnded`). A joiner: GET rounds, `retryMilliseconds`
/// apart, until a record opens; and once every address of an opened record has failed, new rounds at the same pace
/// (the device may have published again, `recordOpened`), never while a candidate is dialled or waits.
///
/// No clock, no sockets: DHTSimulationTests runs a board and its joiners with it through a simulated DHT of 200
/// nodes, from a seed.
public struct DHTSchedule: Equatable {
    public enum Phase: Equatable {
        case finding    // board: FIND_NODE toward the key
        case reserving  // board: waiting (briefly) for a relay reservation
        case putting    // board: PUT_VALUE to the closest that answered
        case stored     // board: done for this window (until the relay changes)
        case getting    // joiner: GET_VALUE toward the key
        case resting    // joiner: nothing found yet; next round at `retryAt`
        case found      // joiner: a record opened; its addresses are candidates
    }

    /// When the current wait ends (resting, reserving, found).
    public private(set) var retryAt: UInt64 = 0
    /// The joiner's lookup rounds so far (its failure summary says how many).
    public private(set) var rounds: Int
    /// Joiner: the sequence of the newest record opened (nil: none yet).
    public private(set) var opened: UInt64? = nil
    /// The current phase. Declared last, where it packs beside `opened`'s tag (the schedule is copied with the DHT
    /// state: board size).
    public private(set) var phase: Phase

    /// The joiner asks again this often until its code expires (the board may not have stored its record yet).
    public static let retryMilliseconds: UInt64 = 2_000

    /// A request that gets no complete answer in this time counts as failed (unreachable peers are skipped).
    public static let requestTimeoutMilliseconds: UInt64 = 5_000

    /// Whether another request may start, with `freeLinks` of the node's connections free: each request is one
    /// short connection, and one connection is always left for pairing (a joiner's dial, the window's code holder).
    @inline(__always)
    public static func mayStartRequest(freeLinks: Int) -> Bool { freeLinks > 1 }

    /// A board's window begins by finding the closest peers.
    public static var publishing: DHTSchedule { DHTSchedule(rounds: 0, phase: .finding) }
    /// A joiner begins its first GET round.
    public static var searching: DHTSchedule { DHTSchedule(rounds: 1, phase: .getting) }

    /// The request the lookup's peers get in this phase; nil: no requests go out.
    public var request: KadMessage.Kind? {
        switch phase {
        case .finding: .findNode
        case .putting: .putValue
        case .getting: .getValue
        default: nil
        }
    }

    /// When the loop must wake for the schedule: a resting joiner's next round. (The other waits are checked on
    /// the loop's turns, at least once a second.)
    public var wakeAt: UInt64? { phase == .resting ? retryAt : nil }

    public enum Due: Equatable {
        case nothing
        /// A new round: the node starts a fresh lookup (the phase is `getting` again).
        case lookAgain
        /// The relay has answered or the wait is over (`relayTimedOut`): seal the record and PUT it.
        case put(relayTimedOut: Bool)
    }

    /// What is due at `now` between rounds. `relayDecided`: the relay reservation the board waits for has an
    /// outcome; `idle`: the joiner dials no candidate and none waits (asked only when it matters: it scans the
    /// node's table and queues, and a board's loop turns here all window long).
    public mutating func due(now: UInt64, relayDecided: Bool, idle: @autoclosure () -> Bool) -> Due {
        switch phase {
        case .resting where now >= retryAt, .found where now >= retryAt && idle():
            phase = .getting
            rounds += 1
            return .lookAgain
        case .reserving where relayDecided || now >= retryAt:
            return .put(relayTimedOut: !relayDecided)
        default:
            return .nothing
        }
    }

    public enum RoundEnd: Equatable {
        /// Board: no peer answered FIND_NODE; the record is stored nowhere.
        case noPeerAnswered
        /// Board: the closest peers are known; next a relay reservation (`reserving`) or the PUT (`putting`).
        case closestFound
        /// Board: the PUT round is over.
        case stored
        /// Joiner: no record this round; the next at `retryAt`.
        case resting
        /// Nothing was running.
        case none
    }

    /// The lookup of the current round has finished at `now`; `anyAnswered`: some peer answered it.
    public mutating func roundEnded(now: UInt64, anyAnswered: Bool) -> RoundEnd {
        switch phase {
        case .finding:
            guard anyAnswered else {
                phase = .stored
                return .noPeerAnswered
            }
            return .closestFound
        case .putting:
            phase = .stored
            return .stored
        case .getting:
            phase = .resting
            retryAt = now + Self.retryMilliseconds
            return .resting
        default:
            return .none
        }
    }

    public enum ReservationEnd: Equatable {
        /// Nothing waits on the relay: the record is not out yet and is not waiting for one, or it went out without one.
        case nothing
        /// The record waits for a relay: ask the next one (none left: it goes out without one).
        case askNext
        /// The stored record's circuit leads nowhere now: ask the next relay, and when it answers put the record out
        /// again, with a higher sequence so that DHT nodes replace the old one.
        case republish
    }

    /// Board: the reservation's connection ended or the relay refused; `held`: it had been granted (lost, not refused).
    public func reservationEnded(held: Bool) -> ReservationEnd {
        switch phase {
        case .stored where held: .republish
        case .reserving: .askNext
        default: .nothing
        }
    }

    /// Board: a relay reservation was asked for; the record waits for it until `until`.
    public mutating func reserving(until: UInt64) {
        phase = .reserving
        retryAt = until
    }

    /// Board: the record is sealed and goes out (PUT) to the closest peers that answered.
    public mutating func putting() { phase = .putting }

    /// Board: nothing (more) to publish for this window.
    public mutating func stored() { phase = .stored }

    /// Joiner: a record with IPNS sequence `sequence` opened at `now`. True when it is news: the first, or newer than
    /// the newest seen (the device published again, with a new relay); then its addresses are candidates, and if they
    /// all fail the joiner looks again after `retryMilliseconds`. False for the record seen already (every peer of a
    /// round has it) or an older one: its addresses are queued or were tried.
    public mutating func recordOpened(sequence: UInt64, now: UInt64) -> Bool {
        if let seen = opened, sequence <= seen { return false }
        opened = sequence
        phase = .found
        retryAt = now + Self.retryMilliseconds
        return true
    }
}
