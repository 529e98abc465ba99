import Transport

/// Board, sans-IO: the relays a window may reserve a slot on (the configured ones, `--relay`, then DHT peers whose
/// identify answer lists circuit relay v2's hop protocol), which one to ask next, and the reservation it holds. One
/// reservation at a time: it keeps one of the four connection slots for the whole window, and one relay is enough
/// for one pairing. What follows a lost reservation is `DHTSchedule.reservationEnded`'s to say.
public struct RelayState {
    var candidates = InlineArray<4, Multiaddr?>(repeating: nil)
    var tried = InlineArray<4, Bool>(repeating: false)
    /// The link holding or asking for the reservation (-1: none), and the relay's address (with its peer id).
    var link = -1
    public internal(set) var current: Multiaddr? = nil
    public internal(set) var reserved = false
    /// The first reservation has an answer, either way: the record waits for it (at most `waitMilliseconds`).
    /// Reservations last an hour (go-libp2p, kubo, py-libp2p) and a window at most ten minutes: never renewed.
    var decided = false
    var asked = 0

    static let waitMilliseconds: UInt64 = 10_000

    public init() {}

    /// A relay seen (configured, or found during the lookup); one entry per peer, the first four.
    public mutating func note(_ address: Multiaddr) {
        for k in 0..<4 {
            if let a = candidates[k], a.peer == address.peer { return }
            if candidates[k] == nil {
                candidates[k] = address
                return
            }
        }
    }

    /// The relay to ask next: the first noted that was not asked yet (nil: none left).
    public mutating func next() -> Multiaddr? {
        for k in 0..<4 where !tried[k] {
            guard let a = candidates[k] else { return nil }
            tried[k] = true
            return a
        }
        return nil
    }

    /// What the record advertises: the relay's address, then /p2p-circuit (the board's id follows from the record).
    public var circuit: Multiaddr? {
        guard reserved, var a = current else { return nil }
        a.relay = a.peer
        a.peer = nil
        return a
    }
}
