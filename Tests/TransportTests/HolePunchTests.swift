import Crypto
import Foundation
import Transport
import Wire
import XCTest

/// DCUtR's two messages (libp2p/specs relay/DCUtR.md), checked against what py-libp2p 0.8.1's own protobuf class
/// writes (its `dcutr_pb2.HolePunch`, serialised and length-prefixed; the bytes are the fuzz seed `py-connect`).
final class HolePunchTests: XCTestCase {
    let laptop = Multiaddr(host: .ip4(FixedBytes<4>([51, 20, 0, 3])!), port: 4001)

    func read(_ bytes: [UInt8]) -> Result<HolePunch.Step, HolePunch.Error> {
        bytes.withUnsafeBytes { b in
            do { return .success(try HolePunch.read(b)) } catch { return .failure(error as! HolePunch.Error) }
        }
    }

    func write(_ kind: HolePunch.Kind, _ address: Multiaddr?) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        let n = out.withUnsafeMutableBytes { HolePunch.write(kind, address, into: $0) }
        return Array(out[0..<n!])
    }

    /// py-libp2p's CONNECT with a QUIC address first and a TCP one second: we take the TCP one.
    func testReadsPyLibp2psConnectAndSync() {
        let connect: [UInt8] = [0x19, 0x08, 0x64, 0x12, 0x0B, 0x04, 0x33, 0x14, 0x00, 0x03, 0x91, 0x02, 0x0F, 0xA1, 0xCD, 0x03,
                                0x12, 0x08, 0x04, 0x33, 0x14, 0x00, 0x03, 0x06, 0x0F, 0xA1]
        XCTAssertEqual(read(connect), .success(.message(HolePunch.Message(kind: .connect, address: laptop), used: 26)))
        XCTAssertEqual(read([0x03, 0x08, 0xAC, 0x02]), .success(.message(HolePunch.Message(kind: .sync, address: nil), used: 4)))
    }

    /// What we write is what py-libp2p writes for the same message (one address), and reads back the same.
    func testWritesWhatPyLibp2pWrites() {
        XCTAssertEqual(write(.connect, laptop), [0x0C, 0x08, 0x64, 0x12, 0x08, 0x04, 0x33, 0x14, 0x00, 0x03, 0x06, 0x0F, 0xA1])
        XCTAssertEqual(write(.sync, nil), [0x03, 0x08, 0xAC, 0x02])
        XCTAssertEqual(write(.connect, nil), [0x02, 0x08, 0x64], "CONNECT without an address: we do not know ours")
        var withPeer = laptop
        withPeer.peer = PeerID(publicKey: Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 9)).publicKey)
        XCTAssertEqual(write(.connect, withPeer), write(.connect, laptop), "only the address goes out, not the /p2p part")
    }

    func testIncompleteMalformedAndOversizedMessagesAreRefused() {
        XCTAssertEqual(read([]), .success(.needMore))
        XCTAssertEqual(read([0x03, 0x08, 0xAC]), .success(.needMore))
        XCTAssertEqual(read([0x02, 0x12, 0x00]), .failure(.malformed), "no type")
        XCTAssertEqual(read([0x02, 0x08, 0x65]), .failure(.malformed), "a type that is neither CONNECT nor SYNC")
        XCTAssertEqual(read([0x02, 0x0A, 0x00]), .failure(.malformed), "type with the wrong wire type")
        XCTAssertEqual(read([0x03, 0x08, 0x64, 0x10]), .failure(.malformed), "a field cut short")
        XCTAssertEqual(read([0x81, 0x20] + [UInt8](repeating: 0, count: 8)), .failure(.oversized), "4097 bytes: over the spec's 4 KiB")
        // An address we cannot read (a DNS name) is skipped, not an error: there may be a usable one after it.
        XCTAssertEqual(read([0x07, 0x08, 0x64, 0x12, 0x03, 0x35, 0x01, 0x61]), .success(.message(HolePunch.Message(kind: .connect, address: nil), used: 8)))
    }
}
