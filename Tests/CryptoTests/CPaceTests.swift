import Crypto
import Foundation
import Wire
import XCTest

/// CPace-RISTRETTO255-SHA512 against the draft's published vectors (Tests/Fixtures/cpace: the G_Coffee25519 entry of
/// cfrg/draft-irtf-cfrg-cpace's testvectors.json) and its abort conditions.
final class CPaceTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    static var vectors: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/cpace/ristretto255-sha512.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static func fixed(_ hex: String) -> FixedBytes<32> { FixedBytes<32>(bytes(hex))! }

    static func hex<let n: Int>(_ b: FixedBytes<n>) -> String { b.withUnsafeBytes { $0.map { String(format: "%02X", $0) }.joined() } }

    func testTheDraftsVector() throws {
        let v = Self.vectors["vector"] as! [String: String]
        let prs = Self.bytes(v["PRS"]!), ci = Self.bytes(v["CI"]!), sid = Self.bytes(v["sid"]!)
        let g = prs.withUnsafeBytes { p in ci.withUnsafeBytes { c in sid.withUnsafeBytes { s in CPace.generator(password: p, channel: c, session: s) } } }
        XCTAssertEqual(Self.hex(g), v["g"])
        let ya = Self.fixed(v["ya"]!), yb = Self.fixed(v["yb"]!)
        let shareA = CPace.share(ya, generator: g), shareB = CPace.share(yb, generator: g)
        XCTAssertEqual(Self.hex(shareA), v["Ya"])
        XCTAssertEqual(Self.hex(shareB), v["Yb"])
        let ada = Self.bytes(v["ADa"]!), adb = Self.bytes(v["ADb"]!)
        func isk(_ y: FixedBytes<32>, _ peer: FixedBytes<32>) throws -> String {
            try sid.withUnsafeBytes { s in
                try ada.withUnsafeBytes { a in
                    try adb.withUnsafeBytes { b in
                        Self.hex(try CPace.sessionKey(y, peer: peer, session: s, initiator: shareA, initiatorData: a, responder: shareB, responderData: b))
                    }
                }
            }
        }
        XCTAssertEqual(try isk(ya, shareB), v["ISK_IR"])
        XCTAssertEqual(try isk(yb, shareA), v["ISK_IR"])
    }

    func testInvalidSharesAbort() throws {
        let points = Self.vectors["invalid_points"] as! [String: Any]
        let valid = points["Valid"] as! [String: String]
        let s = Self.fixed(valid["s"]!)
        XCTAssertEqual(Self.hex(CPace.share(s, generator: Self.fixed(valid["X"]!))), valid["G.scalar_mult_vfy(s,X)"])
        let sid = [UInt8](repeating: 1, count: 16)
        for key in ["Invalid Y1", "Invalid Y2"] {
            let bad = Self.fixed(points[key] as! String)
            XCTAssertThrowsError(try sid.withUnsafeBytes { sidRaw in
                try CPace.sessionKey(s, peer: bad, session: sidRaw, initiator: bad, initiatorData: sidRaw, responder: bad, responderData: sidRaw)
            }, key) { XCTAssertEqual($0 as? CPace.Failure, .invalidShare) }
        }
    }

    /// A wrong password gives another generator, so the two sides' keys differ (and nothing else is learnt).
    func testAWrongPasswordGivesAnotherKey() throws {
        var rng = SystemRandom()
        let sid = [UInt8](repeating: 7, count: 16), ci = [UInt8](), none = [UInt8]()
        func generator(_ password: String) -> FixedBytes<32> {
            Array(password.utf8).withUnsafeBytes { p in ci.withUnsafeBytes { c in sid.withUnsafeBytes { CPace.generator(password: p, channel: c, session: $0) } } }
        }
        let ya = CPace.scalar(using: &rng), yb = CPace.scalar(using: &rng)
        XCTAssertEqual(ya[31] & 0xF0, 0)
        let a = CPace.share(ya, generator: generator("12345678")), b = CPace.share(yb, generator: generator("12345679"))
        let ka = try sid.withUnsafeBytes { s in try none.withUnsafeBytes { n in try CPace.sessionKey(ya, peer: b, session: s, initiator: a, initiatorData: n, responder: b, responderData: n) } }
        let kb = try sid.withUnsafeBytes { s in try none.withUnsafeBytes { n in try CPace.sessionKey(yb, peer: a, session: s, initiator: a, initiatorData: n, responder: b, responderData: n) } }
        XCTAssertNotEqual(ka, kb)
    }
}
