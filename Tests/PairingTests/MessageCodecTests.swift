import Crypto
import Wire
import TestSupport
import XCTest

@testable import Pairing

final class MessageCodecTests: XCTestCase {
    let sid = SessionID(bytes: FixedBytes(repeating: 0x5A))
    let info = device("Büro-NAS ☁", id: 0x01)

    var samples: [PairingMessage] {
        [
            .request(PairingRequest(sessionID: sid, deviceInfo: info, publicKey: .init(bytes: FixedBytes(repeating: 2)), joinerProof: FixedBytes(repeating: 3))),
            .challenge(Challenge(sessionID: sid, challenge: FixedBytes(repeating: 4), deviceInfo: info, initiatorProof: FixedBytes(repeating: 5))),
            .response(Response(sessionID: sid, signature: .init(bytes: FixedBytes(repeating: 6)), deviceInfo: info)),
            .complete(Complete(sessionID: sid, rejection: nil)),
            .complete(Complete(sessionID: sid, rejection: .wrongCode, detail: try! FixedText("try again"))),
        ]
    }

    func testRoundTrip() {
        for m in samples {
            XCTAssertEqual(try decode(encode(m)).get(), m)
        }
        XCTAssertEqual(info.slug.string, "b-ro-nas")
    }

    func testLayoutIsAsSpecified() {
        let bytes = encode(.complete(Complete(sessionID: sid, rejection: .codeBurned)))
        XCTAssertEqual(bytes, [1, 4] + [UInt8](repeating: 0x5A, count: 16) + [6, 0])
        let request = encode(samples[0])
        XCTAssertEqual(Array(request.prefix(2)), [1, 1])
        // A maximal request stays within the codec's bound.
        let big = try! DeviceInfo.make(
            deviceID: DeviceID(bytes: FixedBytes()), name: String(repeating: "n", count: 64), type: .other,
            osVersion: String(repeating: "o", count: 64), appVersion: String(repeating: "a", count: 32))
        let maxRequest = encode(.request(PairingRequest(sessionID: sid, deviceInfo: big, publicKey: .init(bytes: FixedBytes()), joinerProof: FixedBytes())))
        XCTAssertLessThanOrEqual(maxRequest.count, MessageCodec.maxMessageLength)
    }

    func testEveryTruncationIsATypedError() {
        for m in samples {
            let full = encode(m)
            for cut in 0..<full.count {
                switch decode(Array(full.prefix(cut))) {
                case .success: XCTFail("accepted a message cut at \(cut) of \(full.count)")
                case .failure(let e): XCTAssertTrue(e == .truncated || e == .empty, "\(e) at \(cut)")
                }
            }
        }
    }

    func testRejectsTrailingUnknownAndOversized() {
        let full = encode(samples[2])
        XCTAssertEqual(decode(full + [0]).failure, .trailingBytes(count: 1))
        var v2 = full
        v2[0] = 2
        XCTAssertEqual(decode(v2).failure, .unsupportedVersion(2))
        var t9 = full
        t9[1] = 9
        XCTAssertEqual(decode(t9).failure, .unknownType(9))
        XCTAssertEqual(decode([UInt8](repeating: 1, count: MessageCodec.maxMessageLength + 1)).failure, .oversized(length: MessageCodec.maxMessageLength + 1))
        XCTAssertEqual(decode([]).failure, .empty)
    }

    func testRejectsBadFields() {
        // Layout of a Response: version, type, sid(16), signature(64), device id(16), type(1), name…
        let full = encode(samples[2])
        let deviceTypeOffset = 2 + 16 + 64 + 16
        var badType = full
        badType[deviceTypeOffset] = 0
        XCTAssertEqual(decode(badType).failure, .unknownDeviceType(0))
        let nameOffset = deviceTypeOffset + 1
        var control = full
        control[nameOffset + 1] = 0x1B  // ESC inside the name
        XCTAssertEqual(decode(control).failure, .invalidText(field: .deviceName))
        for format: [UInt8] in [[0xE2, 0x80, 0xAE], [0xE2, 0x81, 0xA6], [0xE2, 0x80, 0x8B], [0xEF, 0xBB, 0xBF]] {
            // A name with a right-to-left override, an isolate, a zero-width space or a BOM: refused like a control.
            var bidi = full
            let length = Int(full[nameOffset])
            bidi.replaceSubrange((nameOffset + 1)..<(nameOffset + 4), with: format)
            XCTAssertEqual(bidi.count, full.count)
            XCTAssertGreaterThanOrEqual(length, 3)
            XCTAssertEqual(decode(bidi).failure, .invalidText(field: .deviceName), "\(format)")
        }
        var badUTF8 = full
        badUTF8[nameOffset + 1] = 0xFF
        XCTAssertEqual(decode(badUTF8).failure, .invalidText(field: .deviceName))
        var longName = full
        longName[nameOffset] = 65
        XCTAssertEqual(decode(longName).failure, .textTooLong(field: .deviceName))
        var emptyName = Array(full[0..<nameOffset]) + [0] + Array(full[(nameOffset + 1 + Int(full[nameOffset]))...])
        XCTAssertEqual(decode(emptyName).failure, .invalidText(field: .deviceName))
        emptyName = []
        // The slug must be [a-z0-9-].
        let slugOffset = nameOffset + 1 + Int(full[nameOffset])
        var badSlug = full
        badSlug[slugOffset + 1] = UInt8(ascii: "A")
        XCTAssertEqual(decode(badSlug).failure, .invalidText(field: .deviceSlug))
        // A success carries no detail; C1 controls are refused in text.
        XCTAssertEqual(decode([1, 4] + [UInt8](repeating: 0, count: 16) + [0, 1, 0x41]).failure, .inconsistentComplete)
        XCTAssertEqual(decode([1, 4] + [UInt8](repeating: 0, count: 16) + [1, 2, 0xC2, 0x9B]).failure, .invalidText(field: .detail))
        // Unknown reasons from newer peers are kept, not refused.
        XCTAssertEqual(decode([1, 4] + [UInt8](repeating: 0, count: 16) + [200, 0]).success?.asComplete?.rejection, .unspecified(200))
    }

    func testRandomInputNeverTraps() {
        var rng = SeededRandom(seed: 3)
        var accepted = 0
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                // Mutate a valid message: flips, cuts and insertions find deeper paths than pure noise.
                bytes = encode(samples[i % samples.count])
                let position = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[position] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1: bytes.removeSubrange(position...)
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
                }
            } else {
                bytes = [UInt8](repeating: 0, count: Int(rng.next() % 600))
                bytes.withUnsafeMutableBytes { rng.fill($0) }
            }
            if case .success = decode(bytes) { accepted += 1 }
        }
        XCTAssertLessThan(accepted, 20_000)
    }
}

final class MessageFrameTests: XCTestCase {
    func next(_ bytes: [UInt8]) -> Result<MessageFrame.Result, MessageFrame.Error> {
        bytes.withUnsafeBytes { raw in Result { () throws(MessageFrame.Error) in try MessageFrame.next(in: raw) } }
    }

    func testFramingRoundTripAndPartialInput() {
        let message = PairingMessage.complete(Complete(sessionID: SessionID(bytes: FixedBytes(repeating: 1)), rejection: .expired))
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw)
            try! MessageFrame.write(message, into: &w)
            return w.count
        }
        let frame = Array(buffer.prefix(n))
        XCTAssertEqual(frame.first, 20, "one-byte length prefix, then the 20-byte body")
        for cut in 0..<frame.count { XCTAssertEqual(try next(Array(frame.prefix(cut))).get(), .needMore) }
        XCTAssertEqual(try next(frame + frame).get(), .frame(bodyRange: 1..<21, frameLength: 21))
        XCTAssertEqual(try decode(Array(frame[1...])).get(), message)
    }

    func testRejectsOversizedEmptyAndMalformedLengths() {
        XCTAssertEqual(next([0x81, 0x20]).failure, .oversized(length: 4097))
        XCTAssertEqual(next([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).failure, .oversized(length: 0xFFFF_FFFF))
        XCTAssertEqual(next([0x00]).failure, .emptyBody)
        XCTAssertEqual(next([0x80, 0x00]).failure, .malformedLength)
        XCTAssertEqual(next([UInt8](repeating: 0xFF, count: 12)).failure, .malformedLength)
        XCTAssertEqual(try next([0x80, 0x20]).get(), .needMore, "4096 is allowed; the body has not arrived")
    }

    func testWriterRefusesSmallBuffers() throws {
        let message = PairingMessage.complete(Complete(sessionID: SessionID(bytes: FixedBytes()), rejection: nil))
        var small = [UInt8](repeating: 0, count: 10)
        try small.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw)
            XCTAssertThrowsError(try MessageFrame.write(message, into: &w))
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
    var success: Success? {
        if case .success(let v) = self { return v }
        return nil
    }
}
