import Crypto
import Foundation
import Transport
import Wire
import XCTest

final class CircuitRelayTests: XCTestCase {
    let peer = PeerID(publicKey: Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 7)).publicKey)

    func read(_ kind: CircuitRelay.Kind, _ bytes: [UInt8]) -> Result<CircuitRelay.Step, CircuitRelay.Error> {
        bytes.withUnsafeBytes { b in
            do { return .success(try CircuitRelay.read(kind, b)) } catch { return .failure(error as! CircuitRelay.Error) }
        }
    }

    func corpus(_ name: String) throws -> [UInt8] {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/relay/" + name).path
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func message(_ step: CircuitRelay.Step) -> CircuitRelay.Message? {
        if case .message(let m, _) = step { return m }
        return nil
    }

    /// What we send, byte for byte (the spec's field numbers; a length prefix), and what it reads back as.
    func testRequestsWeSend() throws {
        var out = [UInt8](repeating: 0, count: 64)
        var n = out.withUnsafeMutableBytes { CircuitRelay.reserve(into: $0) }
        XCTAssertEqual(Array(out[0..<n!]), [0x02, 0x08, 0x00], "HopMessage{type: RESERVE}")
        n = out.withUnsafeMutableBytes { CircuitRelay.stopStatus(.ok, into: $0) }
        XCTAssertEqual(Array(out[0..<n!]), [0x04, 0x08, 0x01, 0x20, 0x64], "StopMessage{type: STATUS, status: OK}")
        n = out.withUnsafeMutableBytes { CircuitRelay.stopStatus(.resourceLimitExceeded, into: $0) }
        XCTAssertEqual(Array(out[0..<n!]), [0x05, 0x08, 0x01, 0x20, 0xC9, 0x01], "status 201 as a 2-byte varint")
        n = out.withUnsafeMutableBytes { CircuitRelay.connect(to: peer, into: $0) }
        let connect = Array(out[0..<n!])
        XCTAssertEqual(Array(connect[0..<7]), [44, 0x08, 0x01, 0x12, 40, 0x0A, 38], "HopMessage{type: CONNECT, peer: {id}}")
        XCTAssertEqual(Array(connect[7...]), peer.bytes.withUnsafeBytes { Array($0) })
        var expected = CircuitRelay.Message()
        expected.type = 1
        expected.peer = peer
        XCTAssertEqual(try read(.hop, connect).get(), .message(expected, used: connect.count))
        XCTAssertNil(out.withUnsafeMutableBytes { CircuitRelay.reserve(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<2])) }, "too small a buffer")
    }

    /// py-libp2p 0.8.1's relay answers, encoded by its own protobuf classes (Tests/Fuzz/capture_py_seeds.py).
    func testPyLibp2pRelayMessagesRead() throws {
        let ok = try corpus("py-hop-ok")
        let m = try XCTUnwrap(message(try read(.hop, ok).get()))
        XCTAssertTrue(m.isOK)
        XCTAssertEqual(m.type, 2)
        for cut in 0..<ok.count { XCTAssertEqual(try read(.hop, Array(ok[0..<cut])).get(), .needMore, "cut at \(cut)") }

        let refused = try XCTUnwrap(message(try read(.hop, try corpus("py-hop-no-reservation")).get()))
        XCTAssertEqual(CircuitRelay.Status(rawValue: refused.status), .noReservation)
        XCTAssertFalse(refused.isOK)

        let stop = try XCTUnwrap(message(try read(.stop, try corpus("py-stop-connect")).get()))
        XCTAssertEqual(stop.type, 0)
        XCTAssertEqual(stop.peer, peer)
    }

    func testMalformedAndOversizedAreTypedErrors() {
        XCTAssertEqual(read(.hop, [0x80, 0x20]).failure, .oversized, "4 KiB")
        XCTAssertEqual(read(.hop, [0x00]).failure, .malformed, "no type: required")
        XCTAssertEqual(read(.hop, [0x02, 0x0A, 0x00]).failure, .malformed, "type as bytes")
        XCTAssertEqual(read(.stop, [0x04, 0x08, 0x00, 0x12, 0x05]).failure, .malformed, "a peer longer than the message")
        XCTAssertEqual(read(.hop, [0x04, 0x08, 0x02, 0x1A, 0x00]), .success(.message(withType(2), used: 5)), "an empty reservation reads")
        XCTAssertEqual(read(.hop, [UInt8](repeating: 0xFF, count: 12)).failure, .malformed)
        // Another kind of peer id (RSA, sha256 multihash) is not a peer we can pair with: no peer, not an error.
        let body: [UInt8] = [0x08, 0x00, 0x12, 0x24, 0x0A, 0x22, 0x12, 0x20] + [UInt8](repeating: 1, count: 32)
        XCTAssertNil(message(try! read(.stop, [UInt8(body.count)] + body).get())?.peer)
    }

    func withType(_ t: UInt64) -> CircuitRelay.Message {
        var m = CircuitRelay.Message()
        m.type = t
        return m
    }

    func testCircuitAddressesInTextAndBinary() throws {
        let text = "/ip4/51.20.0.1/tcp/4002/p2p/" + peer.text + "/p2p-circuit"
        let a = try Multiaddr(text: text)
        XCTAssertEqual(a.relay, peer)
        XCTAssertNil(a.peer)
        XCTAssertEqual(a.text, text)
        let target = PeerID(publicKey: Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 8)).publicKey)
        let full = try Multiaddr(text: text + "/p2p/" + target.text)
        XCTAssertEqual(full.relay, peer)
        XCTAssertEqual(full.peer, target)
        for address in [a, full] {
            var out = [UInt8](repeating: 0, count: 128)
            let n = out.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                try! address.encode(into: &w)
                return w.count
            }
            XCTAssertEqual(try out[0..<n].withUnsafeBytes { try Multiaddr(binary: $0) }, address)
            XCTAssertEqual(Array(out[49..<51]), [0xA2, 0x02], "p2p-circuit (0x0122) after /ip4 (5), /tcp (3), /p2p (2 + 1 + 38)")
        }
        for bad in [text + "/p2p", "/ip4/1.2.3.4/tcp/1/p2p-circuit/p2p/" + target.text, text.replacingOccurrences(of: "p2p-circuit", with: "p2p-circus")] {
            XCTAssertThrowsError(try Multiaddr(text: bad), bad)
        }
        // In binary, a circuit without the relay's id before it is malformed.
        XCTAssertThrowsError(try [UInt8]([0x04, 1, 2, 3, 4, 0x06, 0, 1, 0xA2, 0x02]).withUnsafeBytes { try Multiaddr(binary: $0) })
    }
}
