import Crypto
import Discovery
import Foundation
import Pairing
import Transport
import Wire
import XCTest

/// The IPNS rendezvous record, sans-IO: the spec's test vectors, our records, the clock rule, the DAG-CBOR and
/// RFC 3339 readers under hostile input. DHT nodes' own verdicts on our records are in DHTTests (py-libp2p).
final class IPNSTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/ipns")
    }

    /// The public key inside a base36 CIDv1 libp2p-key name ("k51…"): 01 72 00 24 08 01 12 20 ‖ key.
    static func publicKey(fromName name: String) throws -> Ed25519.PublicKey {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        var bytes: [UInt8] = []  // big-endian, grown as digits arrive
        for c in name.utf8.dropFirst() {
            guard let digit = alphabet.firstIndex(of: c) else { throw CocoaError(.coderInvalidValue) }
            var carry = digit
            for i in stride(from: bytes.count - 1, through: 0, by: -1) {
                let v = Int(bytes[i]) * 36 + carry
                bytes[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
            while carry > 0 {
                bytes.insert(UInt8(carry & 0xFF), at: 0)
                carry >>= 8
            }
        }
        guard bytes.count == 40, bytes.starts(with: [0x01, 0x72, 0x00, 0x24, 0x08, 0x01, 0x12, 0x20]) else { throw CocoaError(.coderInvalidValue) }
        return Ed25519.PublicKey(bytes: FixedBytes<32>(Array(bytes[8...]))!)
    }

    static func verify(_ record: [UInt8], _ key: Ed25519.PublicKey) -> Result<(value: String, eol: UInt64, app: [UInt8]?), IPNSError> {
        record.withUnsafeBytes { raw in
            do {
                let f = try IPNSRecord.verify(raw, publicKey: key)
                return .success((String(decoding: f.value, as: UTF8.self), f.endOfLife, f.application.map { Array($0) }))
            } catch { return .failure(error as! IPNSError) }
        }
    }

    func testTheSpecsSixVectorsGetTheSpecsVerdicts() throws {
        let expected: [String: Result<String, IPNSError>] = [
            "v1": .failure(.missingSignatureV2),
            "v1-v2": .success("/ipfs/bafkqaddwgevxmmraojswg33smq"),
            "v1-v2-broken-v1-value": .failure(.v1Mismatch),
            "v1-v2-broken-signature-v2": .failure(.badSignature),
            "v1-v2-broken-signature-v1": .success("/ipfs/bafkqahtwgevxmmrao5uxi2bamjzg623fnyqhg2lhnzqxi5lsmuqhmmi"),
            "v2": .success("/ipfs/bafkqadtwgiww63tmpeqhezldn5zgi"),
        ]
        // 2123-08-14T12:17:03.694052Z, fraction dropped.
        let eol = UInt64(ISO8601DateFormatter().date(from: "2123-08-14T12:17:03Z")!.timeIntervalSince1970)
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".ipns-record") }
        XCTAssertEqual(files.count, 6)
        for file in files {
            let parts = file.dropLast(".ipns-record".count).split(separator: "_", maxSplits: 1)
            let name = String(parts[0]), kind = String(parts[1])
            let record = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent(file)))
            let key = try Self.publicKey(fromName: name)
            switch (Self.verify(record, key), expected[kind]!) {
            case (.success(let got), .success(let value)):
                XCTAssertEqual(got.value, value, kind)
                XCTAssertEqual(got.eol, eol, kind)
                XCTAssertNil(got.app, kind)
            case (.failure(let got), .failure(let error)):
                XCTAssertEqual(got, error, kind)
            case (let got, let want):
                XCTFail("\(kind): got \(got), the spec says \(want)")
            }
            // The routing key is "/ipns/" ‖ the name's multihash; under another key every vector fails.
            XCTAssertEqual(Array(IPNSRecord.routingKey(key).withUnsafeBytes { Array($0) }[0..<12]), Array("/ipns/".utf8) + [0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
            let other = Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 1)).publicKey
            XCTAssertNotNil(Self.verify(record, other).failureValue, kind)
        }
    }

    // MARK: Our record

    var rng = SystemRandom()
    let now: UInt64 = 1_796_000_000  // 2026-12-01

    func secrets() -> CodeSecrets { CodeSecrets(code: PairingCode(entropy: rng.bytes())) }

    func advertisement(expires: UInt64) throws -> Advertisement {
        let device = try DeviceInfo.make(deviceID: DeviceID(bytes: FixedBytes<16>()), name: "Attic NAS", type: .server, osVersion: "Debian 12", appVersion: "0.1.0")
        let peer = PeerID(publicKey: Ed25519.KeyPair.generate(using: &rng).publicKey)
        return Advertisement(peer: peer, device: device, addresses: [try Multiaddr(text: "/ip4/203.0.113.7/tcp/4001")], expires: expires)
    }

    func record(_ s: CodeSecrets, _ ad: Advertisement, sequence: UInt64 = 0) -> (RecordKey, [UInt8]) {
        let key = RecordKey(ipns: Rendezvous.ipnsKeys(seed: s.ipnsSeed).publicKey)
        var out = [UInt8](repeating: 0, count: IPNSRecord.ownMaxLength)
        let n = out.withUnsafeMutableBytes {
            Rendezvous.record(.ipns, key: key, advertisement: ad, advertKey: s.advertKey, ipnsSeed: s.ipnsSeed, sequence: sequence, random: &rng, into: $0)
        }!
        return (key, Array(out[0..<n]))
    }

    func open(_ s: CodeSecrets, _ key: RecordKey, _ value: [UInt8], now: UInt64) -> Result<Advertisement, RendezvousError> {
        value.withUnsafeBytes { raw in
            do {
                return .success(try Rendezvous.open(.ipns, raw, key: key, advertKey: s.advertKey, ipnsPublicKey: Rendezvous.ipnsKeys(seed: s.ipnsSeed).publicKey, now: now).advertisement)
            } catch { return .failure(error as! RendezvousError) }
        }
    }

    func testOurRecordOpensOnlyWithTheCodeAndRevealsNothing() throws {
        let s = secrets()
        let ad = try advertisement(expires: now + 300)
        let (key, value) = record(s, ad)
        XCTAssertLessThanOrEqual(value.count, IPNSRecord.ownMaxLength)
        let opened = try open(s, key, value, now: now).get()
        XCTAssertEqual(opened.peer, ad.peer)
        XCTAssertEqual(opened.addresses, ad.addresses)
        XCTAssertEqual(opened.device.name.string, "Attic NAS")
        // The record is an ordinary IPNS record: the no-op value, an end of life 48 h past the window.
        let fields = try XCTUnwrap(Self.verify(value, Rendezvous.ipnsKeys(seed: s.ipnsSeed).publicKey).successValue)
        XCTAssertEqual(fields.value, "/ipfs/bafkqaaa")
        XCTAssertEqual(fields.eol, now + 300 + Rendezvous.clockTolerance)
        // Neither the name, the address, nor the board's peer id appears in it.
        XCTAssertNil(value.firstRange(of: Array("Attic NAS".utf8)))
        XCTAssertNil(value.firstRange(of: [203, 0, 113, 7]))
        XCTAssertNil(value.firstRange(of: ad.peer.bytes.withUnsafeBytes { Array($0[6...]) }))
        // Another code: another name, and its keys open nothing here.
        let other = secrets()
        XCTAssertNotEqual(RecordKey(ipns: Rendezvous.ipnsKeys(seed: other.ipnsSeed).publicKey).bytes, key.bytes)
        XCTAssertEqual(open(other, key, value, now: now).failureValue, .ipns(.badSignature))
        // Tampering anywhere is refused (by the signature, or by the parser before it), except in the legacy V1
        // signature (bytes 18..<82, after the 16-byte value field), which readers ignore, as the spec's
        // v1-v2-broken-signature-v1 vector shows.
        XCTAssertEqual(Array(value[16..<18]), [0x12, 64])
        for i in stride(from: 0, to: value.count, by: 5) {
            var t = value
            t[i] ^= 0x04
            if (18..<82).contains(i) {
                XCTAssertNotNil(open(s, key, t, now: now).successValue, "byte \(i)")
            } else {
                XCTAssertNotNil(open(s, key, t, now: now).failureValue, "byte \(i)")
            }
        }
    }

    func testTheSequenceIsBoundToTheSealedAdvertisement() throws {
        let s = secrets()
        let (key, value) = record(s, try advertisement(expires: now + 300), sequence: 0)
        // Re-sign the same sealed payload as sequence 7 (what a code holder replaying an old record could do).
        let app = try XCTUnwrap(Self.verify(value, Rendezvous.ipnsKeys(seed: s.ipnsSeed).publicKey).successValue?.app)
        var out = [UInt8](repeating: 0, count: IPNSRecord.ownMaxLength)
        let n = out.withUnsafeMutableBytes { o in
            app.withUnsafeBytes { IPNSRecord.encode(keys: Rendezvous.ipnsKeys(seed: s.ipnsSeed), sequence: 7, endOfLife: now + 9999, ttlNanoseconds: 1, application: $0, into: o) }
        }!
        XCTAssertEqual(open(s, key, Array(out[0..<n]), now: now).failureValue, .advertisement(.wrongKey))
        // A valid IPNS record under our name without our field is not ours.
        let m = out.withUnsafeMutableBytes { o in
            IPNSRecord.encode(keys: Rendezvous.ipnsKeys(seed: s.ipnsSeed), sequence: 0, endOfLife: now + 9999, ttlNanoseconds: 1, application: UnsafeRawBufferPointer(start: nil, count: 0), into: o)
        }!
        XCTAssertEqual(open(s, key, Array(out[0..<m]), now: now).failureValue, .advertisement(.truncated))
    }

    /// The clock rule (Docs/PROTOCOL.md): a board up to 48 h behind, a joiner up to 48 h off, still meet; a record
    /// from a window that ended longer ago than both errors together is refused.
    func testClockRule() throws {
        let s = secrets()
        let hour: UInt64 = 3600
        // The board's clock is 47 h behind: its window "ends" 47 h ago by real time.
        let (key, late) = record(s, try advertisement(expires: now - 47 * hour + 300))
        XCTAssertNotNil(open(s, key, late, now: now).successValue, "a board 47 h behind")
        // The joiner's clock is 47 h ahead, the board's right.
        let (_, right) = record(s, try advertisement(expires: now + 300))
        XCTAssertNotNil(open(s, key, right, now: now + 47 * hour).successValue, "a joiner 47 h ahead")
        // Both at once (board 47 h behind, joiner 47 h ahead): the end of life is 46 h in the joiner's past.
        XCTAssertNotNil(open(s, key, late, now: now + 47 * hour).successValue, "both clocks off by 47 h")
        // A record whose window ended 49 h before a right clock, written by a right clock: stale.
        let (_, stale) = record(s, try advertisement(expires: now - 97 * hour))
        XCTAssertEqual(open(s, key, stale, now: now).failureValue, .advertisement(.expired))
    }

    // MARK: Codecs under hostile input

    func cbor(_ bytes: [UInt8]) -> CBORError? {
        bytes.withUnsafeBytes { raw -> CBORError? in
            do {
                var map = try CBORMapReader(raw)
                while try map.next() != nil {}
                return nil
            } catch { return error as? CBORError }
        }
    }

    func testDAGCBORReaderIsStrict() {
        // {"a": 1, "bb": h'00'}: canonical.
        XCTAssertNil(cbor([0xA2, 0x61, 0x61, 0x01, 0x62, 0x62, 0x62, 0x41, 0x00]))
        XCTAssertEqual(cbor([0xA2, 0x62, 0x62, 0x62, 0x01, 0x61, 0x61, 0x01]), .keysOutOfOrder)  // longer key first
        XCTAssertEqual(cbor([0xA2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]), .keysOutOfOrder)  // duplicate key
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x18, 0x05]), .nonCanonical)  // 5 in two bytes
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x19, 0x00, 0xFF]), .nonCanonical)
        XCTAssertEqual(cbor([0xBF, 0xFF]), .indefiniteLength)
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x5F, 0xFF]), .indefiniteLength)
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x20]), .unsupportedType)  // -1
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0xA0]), .unsupportedType)  // nested map
        XCTAssertEqual(cbor([0xA1, 0x01, 0x01]), .unsupportedType)  // integer key
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x01, 0x00]), .trailingBytes)
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x45, 0x00]), .truncated)
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), .truncated)
        XCTAssertEqual(cbor([0x81, 0x01]), .notAMap)
        XCTAssertEqual(cbor([0xB8, 0xFF]), .tooManyEntries)
        XCTAssertEqual(cbor([0xA1, 0x61, 0x61, 0x1C]), .nonCanonical)  // reserved additional information
        for _ in 0..<20_000 {
            _ = cbor((0..<Int.random(in: 0...40)).map { _ in UInt8.random(in: 0...255) })
        }
    }

    func rfc(_ text: String) -> UInt64? { Array(text.utf8).withUnsafeBytes { RFC3339.parse($0) } }

    func format(_ seconds: UInt64) -> String {
        var out = FixedBytes<20>()
        RFC3339.format(seconds, into: &out)
        return out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    func testRFC3339AgreesWithFoundation() {
        let iso = ISO8601DateFormatter()
        for _ in 0..<2000 {
            let t = UInt64.random(in: 0...253_402_300_799)
            let text = format(t)
            XCTAssertEqual(text, iso.string(from: Date(timeIntervalSince1970: TimeInterval(t))))
            XCTAssertEqual(rfc(text), t)
        }
        XCTAssertEqual(format(0), "1970-01-01T00:00:00Z")
        XCTAssertTrue(RFC3339.civil(fromDays: -1) == (1969, 12, 31) && RFC3339.civil(fromDays: -719_468) == (0, 3, 1))
        XCTAssertEqual(rfc("2000-02-29T23:59:59.999999999Z"), 951_868_799)
        for bad in ["2001-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T00:00:00",
                    "2026-12-01T00:00:00+00:00", "2026-12-01T00:00:00.Z", "2026-12-01T00:00:00.1234567890Z", "1969-12-31T23:59:59Z",
                    "2026-12-01 00:00:00Z", "+026-12-01T00:00:00Z"] {
            XCTAssertNil(rfc(bad), bad)
        }
    }
}

extension Result {
    var successValue: Success? { if case .success(let v) = self { v } else { nil } }
}
