import Discovery
import Transport

/// The decisions of one hole punch (DCUtR, libp2p/specs relay/DCUtR.md), without I/O: told what arrived on the
/// stream, what became of the socket and the dial, and the time, it says what to do next. The driver
/// (NodeHolePunch) owns the stream, the bound socket and the direct connection.
///
/// The initiator (the side that took the relayed connection in) binds a socket, sends CONNECT with its address at
/// that socket's port, times the answer, sends SYNC and dials half the round trip later; after a failed dial it starts
/// over on the same stream, three attempts in all. The responder binds when CONNECT arrives, answers with its own
/// address, and dials as SYNC arrives.
struct HolePunchSession {
    enum Action: Equatable {
        case none
        /// Bind a fresh socket (closing any earlier one), then call `bound(named:now:)`.
        case bind
        /// Write CONNECT on the stream, naming our address at the bound socket's port (`named`) or none.
        case sendConnect(named: Bool)
        case sendSync
        /// Connect the bound socket to `peer`; then `failed()` if it does not get through.
        case dial
        /// Give up: reset the stream, close the socket, say why.
        case end(Failure)
    }

    enum Failure: Equatable {
        /// No DHT peer confirmed our public address: nothing to name in CONNECT.
        case noAddress
        /// The other side named no global address.
        case peerHasNoAddress
        /// The third dial failed too.
        case attemptsUsed
    }

    /// The spec: the initiator tries three times before it gives up.
    static let attempts = 3
    /// A direct connect the other side's NAT does not let through is dropped without an answer: a SYN is resent
    /// after one second and three, so five seconds covers the punch arriving a little late.
    static let connectMilliseconds: UInt64 = 5_000

    let initiator: Bool
    /// Where the other side said it is (a global address only).
    private(set) var peer: Multiaddr? = nil
    private(set) var attempts = 0
    /// Initiator: when to dial (half the round trip after SYNC went out); 0: not due.
    private(set) var dialAt: UInt64 = 0
    private var sentAt: UInt64 = 0
    /// A socket is bound and our CONNECT named an address at its port: there is something to dial from.
    private var armed = false

    init(initiator: Bool) { self.initiator = initiator }

    /// Initiator: the relayed connection is up.
    func start() -> Action { .bind }

    /// The socket is bound, and we know our public address (`named`: a DHT peer confirmed one) to name it at.
    mutating func bound(named: Bool, now: UInt64) -> Action {
        armed = named
        guard initiator else { return .sendConnect(named: armed && peer != nil) }
        guard armed else { return .end(.noAddress) }
        sentAt = now
        return .sendConnect(named: true)
    }

    mutating func received(_ message: HolePunch.Message, now: UInt64) -> Action {
        switch (initiator, message.kind) {
        case (true, .connect):
            guard let address = message.address, AddressScope.of(address.host) == .global else {
                return .end(.peerHasNoAddress)
            }
            peer = address
            dialAt = now + max((now - sentAt) / 2, 1)
            return .sendSync
        case (false, .connect):
            // A first CONNECT, or the initiator's next attempt: a fresh socket either way. An address that is not
            // global is not dialled, and our answer then names none (the initiator gives up).
            peer = message.address.flatMap { AddressScope.of($0.host) == .global ? $0 : nil }
            return .bind
        case (false, .sync):
            return dial()
        case (true, .sync):
            return .none
        }
    }

    /// Initiator: half a round trip after SYNC.
    mutating func tick(now: UInt64) -> Action {
        guard dialAt != 0, now >= dialAt else { return .none }
        dialAt = 0
        return dial()
    }

    private mutating func dial() -> Action {
        guard peer != nil, armed else { return .none }
        armed = false  // the socket is used up by this dial
        attempts += 1
        return .dial
    }

    /// The direct dial failed: the initiator starts over until its third attempt; the responder waits for the next
    /// CONNECT.
    mutating func failed() -> Action {
        guard initiator else { return .none }
        return attempts < Self.attempts ? .bind : .end(.attemptsUsed)
    }
}
