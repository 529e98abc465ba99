import Agent
import Crypto
import Transport
import Wire
import XCTest

/// Which relay a board asks next (`RelayState`): the configured ones first, then those the lookup found, each peer
/// once, four at most, each asked once. NATLabTests runs the same with real relays (py-libp2p's), one refusing.
final class RelayStateTests: XCTestCase {
    func relay(_ n: UInt8, host: UInt8? = nil) -> Multiaddr {
        Multiaddr(host: .ip4(FixedBytes<4>(repeating: host ?? n)), port: 4001, peer: PeerID(publicKey: Ed25519.PublicKey(bytes: FixedBytes<32>(repeating: n))))
    }

    func testEachRelayIsAskedOnceInTheOrderSeen() {
        var state = RelayState()
        XCTAssertNil(state.next(), "no relay known: none to ask")
        state.note(relay(1))
        state.note(relay(2))
        state.note(relay(1, host: 9))  // the first again, at another address
        for n in UInt8(3)...5 { state.note(relay(n)) }  // the fifth does not fit
        XCTAssertEqual(state.next(), relay(1))
        XCTAssertEqual(state.next(), relay(2))
        XCTAssertEqual(state.next(), relay(3))
        XCTAssertEqual(state.next(), relay(4))
        XCTAssertNil(state.next(), "each asked once, four at most")
        XCTAssertNil(state.circuit, "no circuit to advertise without a reservation")
    }
}
