import Foundation
import Crypto
import TestSupport
import Wire
import XCTest

@testable import Transport

final class MultistreamTests: XCTestCase {
    func message(_ text: String) -> [UInt8] { [UInt8(text.utf8.count + 1)] + Array(text.utf8) + [0x0A] }

    func listen(_ input: [UInt8], supported: StaticString = "/noise") -> (Result<MultistreamListener.Outcome, Multistream.Error>, [UInt8]) {
        var l = MultistreamListener(supported: InlineArray(repeating: supported), count: 1)
        var out = [UInt8](repeating: 0, count: 512)
        var n = 0
        let result: Result<MultistreamListener.Outcome, Multistream.Error> = input.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { o in
                var w = ByteWriter(o)
                defer { n = w.count }
                do { return .success(try l.receive(raw, answers: &w).0) } catch { return .failure(error as! Multistream.Error) }
            }
        }
        return (result, Array(out.prefix(n)))
    }

    func testListenerAgreesAnswersNaAndRefusesNonsense() {
        let (ok, echo) = listen(message("/multistream/1.0.0") + message("/ipfs/id/1.0.0") + message("/noise"))
        XCTAssertEqual(try ok.get(), .agreed(index: 0))
        XCTAssertEqual(echo, message("na") + message("/noise"), "unknown protocols get na, then the agreement is echoed")
        XCTAssertEqual(listen(message("/multistream/2.0.0")).0.failure, .wrongHeader)
        XCTAssertEqual(listen(Array("GET / HTTP/1.1\r\n".utf8)).0.failure, .wrongHeader, "refused from the length byte alone")
        XCTAssertEqual(listen(message("/multistream/1.0.0") + [0x80, 0x80, 0x04]).0.failure, .oversized)
        XCTAssertEqual(listen(message("/multistream/1.0.0") + [3, 0x61, 0x62, 0x63]).0.failure, .malformed, "no trailing newline")
        XCTAssertEqual(listen(message("/multistream/1.0.0") + [0]).0.failure, .malformed, "empty message")
        let many = message("/multistream/1.0.0") + (0..<9).flatMap { message("/p\($0)") }
        XCTAssertEqual(listen(many).0.failure, .tooManyProposals)
        for cut in 0..<message("/multistream/1.0.0").count {
            XCTAssertEqual(try listen(Array(message("/multistream/1.0.0").prefix(cut))).0.get(), .pending)
        }
    }

    func testDialerHandlesRefusal() {
        var d = MultistreamDialer(proposal: "/yamux/1.0.0")
        let na = message("/multistream/1.0.0") + message("na")
        XCTAssertThrowsError(try na.withUnsafeBytes { try d.receive($0) }) { XCTAssertEqual($0 as? Multistream.Error, .refused) }
        var e = MultistreamDialer(proposal: "/yamux/1.0.0")
        let ok = message("/multistream/1.0.0") + message("/yamux/1.0.0") + [0xAA]
        let (outcome, used) = try! ok.withUnsafeBytes { try e.receive($0) }
        XCTAssertEqual(outcome, .agreed)
        XCTAssertEqual(used, ok.count - 1, "bytes after the agreement are left for the next protocol")
    }
}

final class YamuxTests: XCTestCase {
    func frame(_ type: UInt8, _ flags: UInt16, _ id: UInt32, _ length: UInt32, payload: [UInt8] = []) -> [UInt8] {
        [0, type, UInt8(flags >> 8), UInt8(flags & 0xFF)]
            + [UInt8(id >> 24), UInt8((id >> 16) & 0xFF), UInt8((id >> 8) & 0xFF), UInt8(id & 0xFF)]
            + [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)] + payload
    }

    /// Feeds `input` to a listener-side session; returns its events, the bytes it wrote, or its error.
    func run(_ input: [UInt8], session: inout YamuxSession) -> (events: [YamuxSession.Event], output: [UInt8], error: YamuxSession.Error?) {
        var events: [YamuxSession.Event] = []
        var out = [UInt8](repeating: 0, count: 4096)
        var written = 0
        var offset = 0
        var failure: YamuxSession.Error? = nil
        input.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { o in
                var w = ByteWriter(o)
                for _ in 0..<1000 {
                    do {
                        let (event, used) = try session.next(in: UnsafeRawBufferPointer(rebasing: raw[offset...]), output: &w)
                        offset += used
                        if let event { events.append(event) } else if offset >= raw.count { break }
                    } catch {
                        failure = (error as! YamuxSession.Error)
                        break
                    }
                }
                written = w.count
            }
        }
        return (events, Array(out.prefix(written)), failure)
    }

    func testOpenDataFinishAndPing() {
        var s = YamuxSession(role: .listener)
        let r = run(frame(1, 1, 1, 0) + frame(0, 4, 1, 3, payload: [7, 8, 9]) + frame(2, 1, 0, 42), session: &s)
        XCTAssertNil(r.error)
        XCTAssertEqual(r.events.count, 3, "a ping request is answered inside the session, without an event")
        XCTAssertEqual(r.events[0], .opened(1))
        guard case .data(1, _) = r.events[1] else { return XCTFail("\(r.events)") }
        XCTAssertEqual(r.events[2], .finished(1))
        XCTAssertEqual(r.output, frame(1, 2, 1, 0) + frame(2, 2, 0, 42), "stream ACKed, ping answered with the same value")
    }

    func testViolationsAreTypedErrors() {
        var s1 = YamuxSession(role: .listener)
        XCTAssertEqual(run([1] + frame(0, 0, 1, 0).dropFirst(), session: &s1).error, .badVersion(1))
        var s2 = YamuxSession(role: .listener)
        XCTAssertEqual(run(frame(7, 0, 1, 0), session: &s2).error, .unknownType(7))
        var s3 = YamuxSession(role: .listener)
        XCTAssertEqual(run(frame(1, 1, 2, 0), session: &s3).error, .protocolViolation, "a dialer must open odd ids")
        var s4 = YamuxSession(role: .listener)
        XCTAssertEqual(run(frame(1, 1, 0, 0), session: &s4).error, .protocolViolation, "stream 0 is the session")
        var s5 = YamuxSession(role: .listener)
        XCTAssertEqual(run(frame(1, 1, 1, 0) + frame(0, 0, 1, YamuxSession.initialWindow + 1), session: &s5).error, .protocolViolation, "beyond the window")
        var s6 = YamuxSession(role: .listener)
        XCTAssertEqual(run(frame(1, 1, 1, 0) + frame(1, 1, 1, 0), session: &s6).error, .protocolViolation, "opened twice")
    }

    func testStreamTableIsBoundedAndUnknownStreamsAreIgnored() {
        var s = YamuxSession(role: .listener)
        var input: [UInt8] = []
        for id in stride(from: UInt32(1), through: 11, by: 2) { input += frame(1, 1, id, 0) }
        let r = run(input + frame(0, 0, 99, 2, payload: [1, 2]), session: &s)
        XCTAssertNil(r.error)
        XCTAssertEqual(r.events.filter { if case .opened = $0 { return true } else { return false } }.count, YamuxSession.maxStreams)
        XCTAssertEqual(s.openStreams, YamuxSession.maxStreams)
        // The two streams beyond the table are refused with RST.
        XCTAssertTrue(r.output.count >= 2 * 12)
        XCTAssertEqual(Array(r.output.suffix(12)), frame(1, 8, 11, 0))
    }

    func testStreamZeroIsNeverWritable() throws {
        // Free slots have id 0: a write to stream 0 must not land in one (regression: it did once).
        var s = YamuxSession(role: .dialer)
        var out = [UInt8](repeating: 0, count: 64)
        try out.withUnsafeMutableBytes { o in
            var w = ByteWriter(o)
            XCTAssertThrowsError(try [UInt8]([1, 2]).withUnsafeBytes { try s.write(0, $0, output: &w) }) {
                XCTAssertEqual($0 as? YamuxSession.Error, .streamNotWritable)
            }
            XCTAssertEqual(w.count, 0)
        }
    }

    func testRandomInputNeverTraps() {
        var rng = TestRandom(state: 5)
        for _ in 0..<3000 {
            var bytes = [UInt8](repeating: 0, count: 1 + Int(rng.next() % 200))
            bytes.withUnsafeMutableBytes { rng.fill($0) }
            if rng.next() % 2 == 0 { bytes[0] = 0 }  // mostly valid versions go deeper
            var s = YamuxSession(role: rng.next() % 2 == 0 ? .listener : .dialer)
            _ = run(bytes, session: &s)
        }
    }
}

final class MultiaddrTests: XCTestCase {
    let peer = PeerID(publicKey: Ed25519.KeyPair(seed: FixedBytes(repeating: 3)).publicKey)

    func testTextAndBinaryRoundTrips() throws {
        let texts = [
            "/ip4/127.0.0.1/tcp/4001", "/ip4/10.77.0.2/tcp/0", "/ip6/::1/tcp/4001", "/ip6/fe80::1:2/tcp/9",
            "/ip6/2001:db8::8a2e:370:7334/tcp/443", "/ip4/192.168.1.20/tcp/4001/p2p/" + peer.text,
        ]
        for text in texts {
            let a = try Multiaddr(text: text)
            XCTAssertEqual(a.text, text)
            var buffer = [UInt8](repeating: 0, count: 128)
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                try! a.encode(into: &w)
                return w.count
            }
            XCTAssertEqual(try buffer.prefix(n).withUnsafeBytes { try Multiaddr(binary: UnsafeRawBufferPointer($0)) }, a)
            // Every truncation of the binary form is a typed error, except the one that ends exactly before
            // /p2p, which is the valid address without the peer id.
            let withoutPeer = n - (a.peer == nil ? 0 : 2 + 1 + PeerID.byteLength)  // code 0x01A5 (2-byte varint), length, id
            for cut in 0..<n where cut != withoutPeer || a.peer == nil {
                XCTAssertThrowsError(try buffer.prefix(cut).withUnsafeBytes { try Multiaddr(binary: UnsafeRawBufferPointer($0)) }, "\(text) cut at \(cut)")
            }
        }
        XCTAssertEqual(try Multiaddr(text: "/ip6/0:0:0:0:0:0:0:1/tcp/1").text, "/ip6/::1/tcp/1")
        var b = [UInt8](repeating: 0, count: 16)
        let n = b.withUnsafeMutableBytes { raw -> Int in
            var w = ByteWriter(raw)
            try! Multiaddr(text: "/ip4/127.0.0.1/tcp/4001").encode(into: &w)
            return w.count
        }
        XCTAssertEqual(Array(b.prefix(n)), [0x04, 127, 0, 0, 1, 0x06, 0x0F, 0xA1], "the multiaddr spec's binary form")
    }

    func testMalformedAndUnsupported() {
        for bad in ["", "ip4/1.2.3.4/tcp/1", "/ip4/1.2.3/tcp/1", "/ip4/1.2.3.256/tcp/1", "/ip4/1.2.3.4/udp/1", "/ip4/1.2.3.4/tcp/70000",
                    "/ip6/1:::2/tcp/1", "/ip6/1:2:3:4:5:6:7:8:9/tcp/1", "/ip6/12345::/tcp/1", "/ip4/1.2.3.4/tcp/1/p2p/notapeer",
                    "/dns4/example.com/tcp/1", String(repeating: "/", count: 300)] {
            XCTAssertThrowsError(try Multiaddr(text: bad), bad)
        }
        // dns4 (0x36) in binary: unsupported, not malformed, so DHT answers with such addresses are skipped.
        XCTAssertThrowsError(try [UInt8]([0x36, 3, 0x61, 0x62, 0x63]).withUnsafeBytes { try Multiaddr(binary: $0) }) {
            XCTAssertEqual($0 as? Multiaddr.Error, .unsupportedProtocol(0x36))
        }
    }
}

final class ProtobufTests: XCTestCase {
    func fields(_ bytes: [UInt8]) -> Result<Int, ProtobufError> {
        bytes.withUnsafeBytes { raw in
            var r = ProtobufReader(raw)
            var n = 0
            do {
                while try r.next() != nil { n += 1 }
                return .success(n)
            } catch { return .failure(error as! ProtobufError) }
        }
    }

    func testReaderRejectsMalformedInput() {
        XCTAssertEqual(try fields([0x08, 0x01, 0x12, 0x02, 0xAA, 0xBB]).get(), 2)
        XCTAssertEqual(fields([0x12, 0x05, 0xAA]).failure, .truncated)
        XCTAssertEqual(fields([0x08]).failure, .truncated)
        XCTAssertEqual(fields([0x0D, 0, 0, 0, 0]).failure, .unsupportedWireType(5))
        XCTAssertEqual(fields([0x00, 0x01]).failure, .invalidFieldNumber)
        XCTAssertEqual(fields([0x08] + [UInt8](repeating: 0xFF, count: 11)).failure, .malformedVarint)
        XCTAssertEqual(fields([0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).failure, .truncated, "a length beyond the input")
    }
}

final class IdentifyTests: XCTestCase {
    func answer(observed: Multiaddr?) -> [UInt8] {
        var list = InlineArray<4, StaticString>(repeating: Identify.protocolID)
        list[1] = "/ipfs/ping/1.0.0"
        var out = [UInt8](repeating: 0, count: 600)
        let n = out.withUnsafeMutableBytes {
            Identify.answer(publicKey: Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 5)).publicKey, observed: observed,
                            protocols: list, protocolCount: 2, into: $0)
        }
        return Array(out[0..<(n ?? 0)])
    }

    func read(_ bytes: [UInt8]) -> Result<Identify.Step, Identify.Error> {
        bytes.withUnsafeBytes { b in
            do { return .success(try Identify.read(b)) } catch { return .failure(error as! Identify.Error) }
        }
    }

    func testAnswerReadsBackAndEveryCutAsksForMore() throws {
        let seen = try Multiaddr(text: "/ip4/51.20.0.2/tcp/40123")
        let bytes = answer(observed: seen)
        XCTAssertGreaterThan(bytes.count, 80)
        XCTAssertEqual(try read(bytes).get(), .answer(observed: seen, relay: false, used: bytes.count))
        XCTAssertEqual(try read(bytes + [0x01, 0x02]).get(), .answer(observed: seen, relay: false, used: bytes.count), "what follows is not part of it")
        for cut in 0..<bytes.count { XCTAssertEqual(try read(Array(bytes[0..<cut])).get(), .needMore, "cut at \(cut)") }
        // Field by field: the spec's fields (no listen addresses: see Identify.answer), the key as libp2p marshals it.
        var numbers: [UInt64] = []
        bytes.withUnsafeBytes { b in
            var r = ProtobufReader(UnsafeRawBufferPointer(rebasing: b[(b[0] < 0x80 ? 1 : 2)...]))
            while let f = try? r.next() {
                numbers.append(f.number)
                if f.number == 1, case .bytes(let k) = f.value { XCTAssertEqual(Array(k.prefix(4)), [0x08, 0x01, 0x12, 0x20]) }
            }
        }
        XCTAssertEqual(numbers, [5, 6, 1, 4, 3, 3])
    }

    /// An answer as go-libp2p/kubo shape it (QUIC and IPv6 listen addresses, relay and DCUtR protocols, a signed
    /// peer record), encoded by py-libp2p's own protobuf classes (Tests/Fuzz/corpus/identify): it serves relays.
    func testGoStyleAnswerEncodedByPyLibp2pReads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/identify/go-style-py-encoded").path
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(try read(bytes).get(), .answer(observed: try Multiaddr(text: "/ip4/51.20.0.2/tcp/40123"), relay: true, used: bytes.count))
    }

    func testObservedAddressOfAnotherTransportIsIgnoredNotAnError() {
        // observedAddr = /ip4/1.2.3.4/udp/4001/quic-v1: not an address we can be dialled at.
        let quic: [UInt8] = [0x04, 1, 2, 3, 4, 0x91, 0x02, 0x0F, 0xA1, 0xCC, 0x03]
        let body: [UInt8] = [0x22, UInt8(quic.count)] + quic
        XCTAssertEqual(try read([UInt8(body.count)] + body).get(), .answer(observed: nil, relay: false, used: body.count + 1))
        XCTAssertEqual(try read([0x00]).get(), .answer(observed: nil, relay: false, used: 1), "an empty message is a valid answer")
    }

    func testMalformedAndOversizedAreTypedErrors() {
        XCTAssertEqual(read([0x80, 0x40]).failure, .oversized, "8 KiB")
        XCTAssertEqual(read([0x80, 0x00]).failure, .malformed, "a varint that is not minimal")
        XCTAssertEqual(read([0x02, 0x22, 0x05]).failure, .malformed, "a field longer than the message")
        XCTAssertEqual(read([0x01, 0x0D]).failure, .malformed, "a fixed-width field")
        XCTAssertEqual(read([UInt8](repeating: 0xFF, count: 12)).failure, .malformed)
    }

    func testAnswerThatDoesNotFitIsNil() {
        var out = [UInt8](repeating: 0, count: 40)
        let n = out.withUnsafeMutableBytes {
            Identify.answer(publicKey: Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 5)).publicKey, observed: nil,
                            protocols: InlineArray<4, StaticString>(repeating: Identify.protocolID), protocolCount: 4, into: $0)
        }
        XCTAssertNil(n)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

extension TestRandom {
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
}
