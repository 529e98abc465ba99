import Crypto
import TestSupport
import Wire
import XCTest

@testable import Transport

struct TestRandom: RandomSource {
    var state: UInt64
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            buffer[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
    }
}

/// Runs a handshake between two in-memory parties; `tamper` may alter message `index` in flight.
func handshake(
    _ a: Ed25519.KeyPair, _ b: Ed25519.KeyPair, tamper: (Int, inout [UInt8]) -> Void = { _, _ in }
) -> Result<(NoiseSession, NoiseSession), NoiseError> {
    var rng = TestRandom(state: 42)
    var initiator = NoiseHandshake(role: .initiator, identity: a, random: &rng)
    var responder = NoiseHandshake(role: .responder, identity: b, random: &rng)
    var buffer = [UInt8](repeating: 0, count: 1024)
    do {
        for index in 0..<3 {
            let (writer, reader) = index % 2 == 0 ? (0, 1) : (1, 0)
            let n = try buffer.withUnsafeMutableBytes { raw -> Int in
                writer == 0 ? try initiator.writeMessage(into: raw) : try responder.writeMessage(into: raw)
            }
            var message = Array(buffer.prefix(n))
            tamper(index, &message)
            try message.withUnsafeBytes { raw in
                if reader == 1 { try responder.readMessage(raw) } else { try initiator.readMessage(raw) }
            }
        }
    } catch let error as NoiseError {
        return .failure(error)
    } catch {
        fatalError()
    }
    return .success((initiator.finish()!, responder.finish()!))
}

final class NoiseTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    let alice = Ed25519.KeyPair(seed: FixedBytes(repeating: 1))
    let bob = Ed25519.KeyPair(seed: FixedBytes(repeating: 2))

    func testHandshakeAgreesAndAuthenticatesBothSides() throws {
        var sizes: [Int] = []
        var (i, r) = try handshake(alice, bob, tamper: { _, m in sizes.append(m.count) }).get()
        XCTAssertEqual(sizes, [32, 200, 168], "the message sizes py-libp2p produces")
        XCTAssertEqual(i.remoteIdentity, bob.publicKey)
        XCTAssertEqual(r.remoteIdentity, alice.publicKey)
        XCTAssertEqual(i.handshakeHash, r.handshakeHash)
        XCTAssertTrue(i.exporter.constantTimeEquals(r.exporter))

        var out = [UInt8](repeating: 0, count: 64)
        var back = [UInt8](repeating: 0, count: 64)
        for round in 0..<3 {
            let text = Array("message \(round)".utf8)
            let n = try text.withUnsafeBytes { p in try out.withUnsafeMutableBytes { o in try i.encrypt(p, into: o) } }
            let m = try out.withUnsafeBytes { c in try back.withUnsafeMutableBytes { o in try r.decrypt(UnsafeRawBufferPointer(rebasing: c[0..<n]), into: o) } }
            XCTAssertEqual(Array(back.prefix(m)), text)
        }
        // A replayed or reordered message fails (the nonce moved on).
        let n = try [UInt8](repeating: 1, count: 4).withUnsafeBytes { p in try out.withUnsafeMutableBytes { o in try r.encrypt(p, into: o) } }
        XCTAssertNoThrow(try out.withUnsafeBytes { c in try back.withUnsafeMutableBytes { o in try i.decrypt(UnsafeRawBufferPointer(rebasing: c[0..<n]), into: o) } })
        XCTAssertThrowsError(try out.withUnsafeBytes { c in try back.withUnsafeMutableBytes { o in try i.decrypt(UnsafeRawBufferPointer(rebasing: c[0..<n]), into: o) } }) {
            XCTAssertEqual($0 as? NoiseError, .decryptFailed)
        }
    }

    func testEveryTamperedHandshakeMessageIsRefused() {
        for index in 0..<3 {
            for position in [0, 31, 40, 100, 150] where position < [32, 200, 168][index] {
                let result = handshake(alice, bob, tamper: { i, m in if i == index, position < m.count { m[position] ^= 0x40 } })
                if index == 0 {
                    // Message 1 is unauthenticated; a changed ephemeral key only shows up as a failure later.
                    if case .success = result { XCTFail("a tampered first message must not lead to a session") }
                } else if case .success = result {
                    XCTFail("tampering message \(index) at \(position) went unnoticed")
                }
            }
        }
    }

    func testTruncatedMessagesAreRefused() {
        for index in 0..<3 {
            for keep in [0, 1, 31, 33, 79, 80, 120] where keep < [32, 200, 168][index] {
                let result = handshake(alice, bob, tamper: { i, m in if i == index, keep < m.count { m.removeSubrange(keep...) } })
                if case .success = result { XCTFail("message \(index) cut to \(keep) bytes was accepted") }
            }
        }
        // Extra bytes after the first message are refused too.
        guard case .failure(.malformedMessage) = handshake(alice, bob, tamper: { i, m in if i == 0 { m.append(0) } }) else { return XCTFail() }
    }

    func testPayloadRejectsOtherKeyTypesAndBadSignatures() {
        // PublicKey with KeyType 0 (RSA).
        let rsa: [UInt8] = [0x08, 0x00, 0x12, 0x02, 0xAA, 0xBB]
        XCTAssertThrowsError(try rsa.withUnsafeBytes { try PublicKeyProtobuf.decode($0) }) { XCTAssertEqual($0 as? NoiseError, .unsupportedIdentityKey) }
        XCTAssertThrowsError(try [UInt8]([0x08]).withUnsafeBytes { try PublicKeyProtobuf.decode($0) })
        var payload = [UInt8](repeating: 0, count: 128)
        let staticKey = X25519.SecretKey(bytes: FixedBytes(repeating: 9)).publicKey
        let n = payload.withUnsafeMutableBytes { NoisePayload.encode(identity: alice, staticKey: staticKey, into: $0)! }
        XCTAssertEqual(n, 104)
        XCTAssertEqual(try payload.prefix(n).withUnsafeBytes { try NoisePayload.verify(UnsafeRawBufferPointer($0), staticKey: staticKey) }, alice.publicKey)
        let otherStatic = X25519.SecretKey(bytes: FixedBytes(repeating: 8)).publicKey
        XCTAssertThrowsError(try payload.prefix(n).withUnsafeBytes { try NoisePayload.verify(UnsafeRawBufferPointer($0), staticKey: otherStatic) }) {
            XCTAssertEqual($0 as? NoiseError, .invalidIdentitySignature)
        }
        for cut in 0..<n {
            XCTAssertThrowsError(try payload.prefix(cut).withUnsafeBytes { try NoisePayload.verify(UnsafeRawBufferPointer($0), staticKey: staticKey) })
        }
    }
}

final class PeerIDTests: XCTestCase {
    func testBase58Vectors() {
        XCTAssertEqual(Array("Hello World!".utf8).withUnsafeBytes { Base58.encode($0) }, "2NEpo7TZRRrLZSi2U")
        XCTAssertEqual([UInt8]([0, 0, 0x28, 0x7f, 0xb4, 0xcd]).withUnsafeBytes { Base58.encode($0) }, "11233QC4")
        var out = [UInt8](repeating: 0, count: 16)
        let n = Array("11233QC4".utf8).withUnsafeBytes { t in out.withUnsafeMutableBytes { Base58.decode(t, into: $0) } }
        XCTAssertEqual(n.map { Array(out.prefix($0)) }, [UInt8]([0, 0, 0x28, 0x7f, 0xb4, 0xcd]))
        XCTAssertNil(Array("0OIl".utf8).withUnsafeBytes { t in out.withUnsafeMutableBytes { Base58.decode(t, into: $0) } })
    }

    func testPeerIDRoundTrip() throws {
        let key = Ed25519.KeyPair(seed: FixedBytes(repeating: 3)).publicKey
        let id = PeerID(publicKey: key)
        XCTAssertTrue(id.text.hasPrefix("12D3KooW"), id.text)
        XCTAssertEqual(try PeerID(text: id.text), id)
        XCTAssertThrowsError(try PeerID(text: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"), "sha256 (RSA) ids are not Ed25519")
        XCTAssertThrowsError(try PeerID(text: ""))
    }
}
