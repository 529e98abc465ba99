import Crypto
import Foundation
import TestSupport
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

    static func text<let n: Int>(_ b: FixedBytes<n>) -> String { b.withUnsafeBytes { $0.map { String(format: "%02X", $0) }.joined() } }

    func testTheDraftsVector() throws {
        let v = Self.vectors["vector"] as! [String: String]
        let prs = hex(v["PRS"]!), ci = hex(v["CI"]!), sid = hex(v["sid"]!)
        let g = prs.withUnsafeBytes { p in ci.withUnsafeBytes { c in sid.withUnsafeBytes { s in CPace.generator(password: p, channel: c, session: s) } } }
        XCTAssertEqual(Self.text(g), v["g"])
        let ya: FixedBytes<32> = fixed(v["ya"]!), yb: FixedBytes<32> = fixed(v["yb"]!)
        let shareA = CPace.share(ya, generator: g), shareB = CPace.share(yb, generator: g)
        XCTAssertEqual(Self.text(shareA), v["Ya"])
        XCTAssertEqual(Self.text(shareB), v["Yb"])
        let ada = hex(v["ADa"]!), adb = hex(v["ADb"]!)
        func isk(_ y: FixedBytes<32>, _ peer: FixedBytes<32>) throws -> String {
            try sid.withUnsafeBytes { s in
                try ada.withUnsafeBytes { a in
                    try adb.withUnsafeBytes { b in
                        Self.text(try CPace.sessionKey(y, peer: peer, session: s, initiator: shareA, initiatorData: a, responder: shareB, responderData: b))
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
        let s: FixedBytes<32> = fixed(valid["s"]!)
        XCTAssertEqual(Self.text(CPace.share(s, generator: fixed(valid["X"]!) as FixedBytes<32>)), valid["G.scalar_mult_vfy(s,X)"])
        let sid = [UInt8](repeating: 1, count: 16)
        for key in ["Invalid Y1", "Invalid Y2"] {
            let bad: FixedBytes<32> = fixed(points[key] as! String)
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
