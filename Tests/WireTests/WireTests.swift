import XCTest

@testable import Wire

final class UvarintTests: XCTestCase {
    func encode(_ v: UInt64) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 16)
        return buf.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw)
            try! w.writeUvarint(v)
            return Array(w.written)
        }
    }

    func decode(_ bytes: [UInt8]) throws(WireError) -> (UInt64, Int) {
        let r = bytes.withUnsafeBytes { raw in Result { () throws(WireError) in try Uvarint.decode(raw) } }
        switch r {
        case .success(let v): return v
        case .failure(let e): throw e
        }
    }

    func testKnownEncodings() throws {
        // Vectors from the multiformats unsigned-varint spec.
        XCTAssertEqual(encode(1), [0x01])
        XCTAssertEqual(encode(127), [0x7F])
        XCTAssertEqual(encode(128), [0x80, 0x01])
        XCTAssertEqual(encode(255), [0xFF, 0x01])
        XCTAssertEqual(encode(300), [0xAC, 0x02])
        XCTAssertEqual(encode(16384), [0x80, 0x80, 0x01])
        for v: UInt64 in [0, 1, 127, 128, 300, 4096, 65535, 1 << 32, (1 << 63) - 1] {
            let e = encode(v)
            XCTAssertEqual(e.count, Uvarint.encodedLength(v))
            let (d, n) = try decode(e)
            XCTAssertEqual(d, v)
            XCTAssertEqual(n, e.count)
        }
    }

    func testRejectsMalformed() {
        XCTAssertThrowsError(try decode([])) { XCTAssertEqual($0 as? WireError, .truncated) }
        XCTAssertThrowsError(try decode([0x80])) { XCTAssertEqual($0 as? WireError, .truncated) }
        XCTAssertThrowsError(try decode([0x80, 0x00])) { XCTAssertEqual($0 as? WireError, .varintNotMinimal) }
        XCTAssertThrowsError(try decode([UInt8](repeating: 0xFF, count: 10))) { XCTAssertEqual($0 as? WireError, .varintOverlong) }
    }
}

final class ReaderWriterTests: XCTestCase {
    func testReaderNeverReadsPastEnd() throws {
        try [UInt8]([1, 2, 3]).withUnsafeBytes { raw in
            var r = ByteReader(raw)
            XCTAssertEqual(try? r.readByte(), 1)
            XCTAssertThrowsError(try r.readSlice(3))
            XCTAssertEqual(r.offset, 1, "a failed read consumes nothing")
            XCTAssertThrowsError(try r.readFixed(FixedBytes<4>.self))
            XCTAssertEqual(try? r.readUInt16BigEndian(), 0x0203)
            XCTAssertTrue(r.isAtEnd)
            XCTAssertThrowsError(try r.readByte())
        }
    }

    func testWriterRefusesOverflow() throws {
        var storage = [UInt8](repeating: 0, count: 4)
        try storage.withUnsafeMutableBytes { raw in
            var w = ByteWriter(raw)
            XCTAssertNoThrow(try w.writeUInt16BigEndian(0xABCD))
            XCTAssertThrowsError(try w.write(FixedBytes<3>())) { XCTAssertEqual($0 as? WireError, .overflow) }
            XCTAssertEqual(w.count, 2)
            XCTAssertNoThrow(try w.write(0x01))
            XCTAssertThrowsError(try w.reserve(2))
        }
        XCTAssertEqual(storage, [0xAB, 0xCD, 0x01, 0x00])
    }
}

final class FixedTextTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> Result<FixedText<8>, TextError> {
        bytes.withUnsafeBytes { FixedText<8>.validated($0) }
    }

    func testAcceptsValidUTF8() {
        XCTAssertEqual(try text(Array("héllo".utf8)).get().string, "héllo")
        XCTAssertEqual(try text([0xF0, 0x9F, 0x98, 0x80]).get().count, 4)  // U+1F600
        XCTAssertEqual(try text([]).get().count, 0)
    }

    func testRejectsMalformedUTF8() {
        let bad: [[UInt8]] = [
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0x80],  // overlong
            [0xED, 0xA0, 0x80],  // UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xC3],  // truncated
            [0xE2, 0x82],  // truncated
            [0x80],  // lone continuation
            [0xFF],
        ]
        for b in bad {
            guard case .failure(.invalidUTF8) = text(b) else { return XCTFail("accepted \(b)") }
        }
    }

    func testRejectsTooLong() {
        guard case .failure(.tooLong(length: 9, limit: 8)) = text(Array("123456789".utf8)) else { return XCTFail() }
    }
}

final class HexTests: XCTestCase {
    func testRoundTripAndUUID() {
        let b = FixedBytes<16>(Array(0..<16))!
        XCTAssertEqual(Hex.encode(b), "000102030405060708090a0b0c0d0e0f")
        XCTAssertEqual(Hex.uuidString(b), "00010203-0405-0607-0809-0a0b0c0d0e0f")
        XCTAssertEqual(Hex.decode("000102030405060708090A0B0C0D0E0F", as: FixedBytes<16>.self), b)
        XCTAssertEqual(Hex.decodeUUID("00010203-0405-0607-0809-0a0b0c0d0e0f"), b)
        XCTAssertNil(Hex.decode("0001", as: FixedBytes<16>.self))
        XCTAssertNil(Hex.decode("zz0102030405060708090a0b0c0d0e0f", as: FixedBytes<16>.self))
        XCTAssertNil(Hex.decodeUUID("0001020-30405-0607-0809-0a0b0c0d0e0f"))
    }

    func testExactMatch() {
        XCTAssertTrue("code".isExactly("code"))
        XCTAssertFalse("cod".isExactly("code"))
        XCTAssertFalse("codes".isExactly("code"))
        XCTAssertTrue("--words=x".startsWithExactly("--"))
        XCTAssertFalse("-w".startsWithExactly("--"))
    }
}

/// The one rule for text from the network (security review finding 12).
final class UntrustedTextTests: XCTestCase {
    func clean(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { UntrustedText.isClean($0) } }
    func shown(_ bytes: [UInt8], limit: Int = 64) -> String { bytes.withUnsafeBytes { UntrustedText.printable($0, limit: limit) } }

    func testOrdinaryNamesPass() {
        for name in ["NAS-A", "Alice's MacBook", "Wohnzimmer-NAS ü", "客厅的NAS", "📦 box", "Ελληνικά"] {
            XCTAssertTrue(clean(Array(name.utf8)), name)
            XCTAssertEqual(shown(Array(name.utf8)), name)
        }
    }

    func testControlsFormatCharactersAndBadUTF8AreRefusedAndMasked() {
        let forbidden: [UInt32] = [0x00, 0x1B, 0x7F, 0x80, 0x9B, 0x9F, 0x061C, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A, 0x202E,
                                   0x2066, 0x2069, 0xFEFF]
        for v in forbidden {
            let bytes = Array(("ok" + String(Unicode.Scalar(v)!) + "device").utf8)
            XCTAssertFalse(clean(bytes), String(v, radix: 16))
            XCTAssertEqual(shown(bytes), "ok?device", String(v, radix: 16))
        }
        // The review's mDNS name: C1 CSI sequences and a right-to-left override.
        let evil: [UInt8] = Array("Evil".utf8) + [0xC2, 0x9B] + Array("2J".utf8) + [0xC2, 0x9B] + Array("31mRED ".utf8) + [0xE2, 0x80, 0xAE] + Array("evil".utf8)
        XCTAssertFalse(clean(evil))
        XCTAssertEqual(shown(evil), "Evil?2J?31mRED ?evil")
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x80], [0x80]] {
            XCTAssertFalse(clean(Array("a".utf8) + bad), "\(bad)")
            XCTAssertFalse(shown(Array("a".utf8) + bad).unicodeScalars.contains { $0.value > 0x7E }, "\(bad)")
        }
    }

    func testPrintableKeepsWholeCharactersWithinTheLimit() {
        XCTAssertEqual(shown(Array("ééé".utf8), limit: 5), "éé")
        XCTAssertEqual(shown(Array(String(repeating: "x", count: 300).utf8)).utf8.count, 64)
    }
}
