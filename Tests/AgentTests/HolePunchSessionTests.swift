import Transport
import Wire
import XCTest

@testable import Agent

/// The hole punch's decisions, driven by hand with a virtual clock: no sockets, no relay, no NAT (the NAT lab tests
/// the whole thing on the wire).
final class HolePunchSessionTests: XCTestCase {
    let board = Multiaddr(host: .ip4(FixedBytes<4>([51, 20, 0, 2])!), port: 40_001)
    let laptop = Multiaddr(host: .ip4(FixedBytes<4>([51, 20, 0, 3])!), port: 50_002)

    func connect(_ address: Multiaddr?) -> HolePunch.Message { HolePunch.Message(kind: .connect, address: address) }
    var sync: HolePunch.Message { HolePunch.Message(kind: .sync, address: nil) }

    /// CONNECT timed, SYNC, and the dial half the measured round trip later; a failed dial starts over with a fresh
    /// socket and CONNECT, three attempts in all.
    func testTheInitiatorTimesItsDialAndTriesThreeTimes() {
        var s = HolePunchSession(initiator: true)
        XCTAssertEqual(s.start(), .bind)
        for attempt in 1...3 {
            let t = UInt64(attempt) * 10_000
            XCTAssertEqual(s.bound(named: true, now: t), .sendConnect(named: true))
            XCTAssertEqual(s.received(connect(laptop), now: t + 400), .sendSync, "the answer came after 400 ms")
            XCTAssertEqual(s.tick(now: t + 599), .none)
            XCTAssertEqual(s.tick(now: t + 600), .dial, "half the round trip after SYNC")
            XCTAssertEqual(s.peer, laptop, "what the answer named")
            XCTAssertEqual(s.tick(now: t + 601), .none, "one dial per round")
            XCTAssertEqual(s.attempts, attempt)
            XCTAssertEqual(s.failed(), attempt < 3 ? .bind : .end(.attemptsUsed))
        }
    }

    func testTheInitiatorGivesUpWithoutAnAddressOnEitherSide() {
        var s = HolePunchSession(initiator: true)
        XCTAssertEqual(s.bound(named: false, now: 0), .end(.noAddress))
        s = HolePunchSession(initiator: true)
        _ = s.bound(named: true, now: 0)
        XCTAssertEqual(s.received(connect(nil), now: 10), .end(.peerHasNoAddress))
        s = HolePunchSession(initiator: true)
        _ = s.bound(named: true, now: 0)
        let home = Multiaddr(host: .ip4(FixedBytes<4>([192, 168, 1, 20])!), port: 4001)
        XCTAssertEqual(s.received(connect(home), now: 10), .end(.peerHasNoAddress), "a private address is never dialled")
        XCTAssertEqual(s.tick(now: 1_000), .none)
    }

    /// The responder binds on CONNECT, answers with its address, and dials as SYNC arrives; a failed dial waits for
    /// the initiator's next CONNECT.
    func testTheResponderAnswersAndDialsOnSync() {
        var s = HolePunchSession(initiator: false)
        XCTAssertEqual(s.received(sync, now: 0), .none, "SYNC before CONNECT: nothing to dial")
        XCTAssertEqual(s.received(connect(board), now: 0), .bind)
        XCTAssertEqual(s.bound(named: true, now: 1), .sendConnect(named: true))
        XCTAssertEqual(s.received(sync, now: 300), .dial)
        XCTAssertEqual(s.peer, board)
        XCTAssertEqual(s.received(sync, now: 301), .none, "the socket is used up")
        XCTAssertEqual(s.failed(), .none)
        XCTAssertEqual(s.received(connect(board), now: 6_000), .bind, "the initiator's second attempt")
        XCTAssertEqual(s.bound(named: true, now: 6_001), .sendConnect(named: true))
        XCTAssertEqual(s.received(sync, now: 6_300), .dial)
        XCTAssertEqual(s.attempts, 2)
    }

    /// Nothing to dial (a private address, or none) or nothing to name (no confirmed address): the answer names no
    /// address, so the initiator gives up, and SYNC dials nothing.
    func testTheResponderNamesNoAddressWhenThereIsNothingToDial() {
        var s = HolePunchSession(initiator: false)
        let home = Multiaddr(host: .ip4(FixedBytes<4>([10, 0, 0, 7])!), port: 4001)
        XCTAssertEqual(s.received(connect(home), now: 0), .bind)
        XCTAssertEqual(s.bound(named: true, now: 1), .sendConnect(named: false))
        XCTAssertNil(s.peer, "a private address is never dialled")
        XCTAssertEqual(s.received(sync, now: 2), .none)
        s = HolePunchSession(initiator: false)
        XCTAssertEqual(s.received(connect(board), now: 0), .bind)
        XCTAssertEqual(s.bound(named: false, now: 1), .sendConnect(named: false))
        XCTAssertEqual(s.received(sync, now: 2), .none)
    }
}
