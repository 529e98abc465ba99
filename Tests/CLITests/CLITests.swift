import Foundation
import XCTest

/// Runs the real `sd-pair` binary as a user would. Every case runs against the host build and against the
/// Embedded build (`SDPAIR_EMBEDDED_BIN`, set by Scripts/test after cross/build-embedded.sh).
final class CLITests: XCTestCase {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var lines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty } }
        var errorLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    /// The binary the current case runs.
    var binary = URL(fileURLWithPath: "/nonexistent")

    /// The host build (SwiftPM puts executables next to the test bundle) and the Embedded build.
    func binaries() throws -> [URL] {
        var all = [Bundle.main.bundleURL.appendingPathComponent("sd-pair")]
        if let path = ProcessInfo.processInfo.environment["SDPAIR_EMBEDDED_BIN"], !path.isEmpty {
            all.append(URL(fileURLWithPath: path))
        } else if ProcessInfo.processInfo.environment["CI"] != nil {
            // In CI the Embedded binary is mandatory: Scripts/test builds it and sets the variable.
            XCTFail("SDPAIR_EMBEDDED_BIN is not set; run the tests through Scripts/test")
        }
        return all
    }

    /// Runs `body` once per binary.
    func forEachBinary(_ body: () throws -> Void) throws {
        for b in try binaries() {
            binary = b
            let failuresBefore = testRun?.failureCount ?? 0
            try body()
            // corelibs-xctest has no XCTContext activities: say which binary the failures above came from.
            if (testRun?.failureCount ?? 0) > failuresBefore { XCTFail("the failures above are from " + b.path) }
        }
    }

    func run(_ arguments: String...) throws -> Run { try run(arguments) }

    func run(_ arguments: [String]) throws -> Run { try Self.execute(binary, arguments) }

    static func execute(_ executable: URL, _ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// BIP39 vectors with the session ids of Scripts/reference-vectors.py.
    static let vectors: [(entropy: String, words: String, sessionID: String?)] = [
        ("00000000000000000000000000000000", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "dbad90d2-4856-27b9-d67d-11a18f83ca01"),
        ("000102030405060708090a0b0c0d0e0f", "abandon amount liar amount expire adjust cage candy arch gather drum buyer", "4446252a-b74d-2f55-34cd-6ab839108fde"),
        ("ffffffffffffffffffffffffffffffff", "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong", "829d3d1d-7390-21f6-822b-9630fc956fdd"),
        ("7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f", "legal winner thank year wave sausage worth useful legal winner thank yellow", nil),
        ("9e885d952ad362caeb4efe34a8e91bd2", "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic", nil),
    ]

    func testCodeFromEntropy() throws { try forEachBinary(checkCodeFromEntropy) }

    func checkCodeFromEntropy() throws {
        for v in Self.vectors {
            let r = try run("code", "--entropy", v.entropy)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.lines.count, 2)
            XCTAssertEqual(r.lines.first, v.words)
            if let sid = v.sessionID { XCTAssertEqual(r.lines.last, "session_id: " + sid) }
            XCTAssertTrue(r.lines.last!.hasPrefix("session_id: "))
        }
    }

    func testCodeFromWords() throws { try forEachBinary(checkCodeFromWords) }

    func checkCodeFromWords() throws {
        for v in Self.vectors {
            let r = try run("code", "--words", v.words)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.lines.first, "entropy: " + v.entropy)
            let fromEntropy = try run("code", "--entropy=" + v.entropy)
            XCTAssertEqual(r.lines.last, fromEntropy.lines.last, "both directions give the same session id")
        }
        let forgiving = try run("code", "--words", "  LEGAL winn thank\tyear wave sausage worth useful legal winner thank yell ")
        XCTAssertEqual(forgiving.status, 0, forgiving.stderr)
        XCTAssertEqual(forgiving.lines.first, "entropy: 7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f")
    }

    func testBadCodes() throws { try forEachBinary(checkBadCodes) }

    func checkBadCodes() throws {
        let cases: [(String, String)] = [
            ("legal winner thank year wave sausage wroth useful legal winner thank yellow", "word 7 'wroth' is not a BIP39 word; did you mean 'worth'"),
            ("legal winner thank wear wave sausage worth useful legal winner thank yellow", "checksum mismatch"),
            ("zoo zoo zoo", "12 words, this one has 3"),
            ("", "12 words, this one has 0"),
        ]
        for (typed, expected) in cases {
            let r = try run("code", "--words", typed)
            XCTAssertEqual(r.status, 2, typed)
            XCTAssertEqual(r.stdout, "", "nothing on stdout for a bad code")
            XCTAssertEqual(r.errorLines.count, 1, "exactly one line on stderr: \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("sd-pair: "))
        }
    }

    func testUsageErrors() throws { try forEachBinary(checkUsageErrors) }

    func checkUsageErrors() throws {
        for args in [[], ["frobnicate"], ["code", "--entropy"], ["code", "--entropy", "xyz"], ["code", "--bogus"],
                     ["code", "--entropy", "00000000000000000000000000000000", "--words", "a"], ["demo", "--expiry", "5"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertEqual(r.errorLines.count, 1, "\(args): \(r.stderr)")
        }
    }

    /// The code need not be in argv (security review finding 8): no code means "ask" (stdin here is /dev/null, so it
    /// says there is none), `-` reads standard input; the words as one argument still work.
    func testJoinTakesTheCodeFromInputOrAsTwelveWords() throws { try forEachBinary(checkJoinCodeForms) }

    func checkJoinCodeForms() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("sd-pair-cli-" + UUID().uuidString).path
        defer { try? FileManager.default.removeItem(atPath: state) }
        for args in [["join"], ["join", "-"]] {
            let r = try run(args + ["--peer", "/ip4/127.0.0.1/tcp/9", "--state-dir", state])
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("no code on standard input"), r.stderr)
        }
        let words = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
        // A valid code, so the run gets as far as dialling (port 9: refused).
        let dialled = try run(["join", words, "--peer", "/ip4/127.0.0.1/tcp/9", "--state-dir", state, "--no-mdns", "--no-dht"])
        XCTAssertEqual(dialled.status, 1, dialled.stderr)
        XCTAssertTrue(dialled.stderr.contains("connection refused"), dialled.stderr)
        // Twelve unquoted words are the same code; three are named as too few.
        let unquoted = try run(["join"] + words.split(separator: " ").map(String.init) + ["--peer", "/ip4/127.0.0.1/tcp/9", "--state-dir", state, "--no-mdns", "--no-dht"])
        XCTAssertEqual(unquoted.status, 1, unquoted.stderr)
        XCTAssertTrue(unquoted.stderr.contains("connection refused"), unquoted.stderr)
        let three = try run(["join", "abandon", "abandon", "about", "--peer", "/ip4/127.0.0.1/tcp/9", "--state-dir", state])
        XCTAssertEqual(three.status, 2)
        XCTAssertTrue(three.stderr.contains("a pairing code has 12 words, this one has 3"), three.stderr)
    }

    func testHelpAndVersion() throws { try forEachBinary(checkHelpAndVersion) }

    func checkHelpAndVersion() throws {
        let r = try run("--help")
        XCTAssertEqual(r.status, 0)
        for word in ["code", "demo", "help", "version", "Exit codes"] { XCTAssertTrue(r.stdout.contains(word), word) }
        XCTAssertEqual(try run("help").stdout, r.stdout)
        XCTAssertTrue(try run("--version").stdout.hasPrefix("sd-pair "))
        // Each command's own help (first-contact item 4): its usage lines, and the common options where it takes them.
        let join = try run("join", "--help")
        XCTAssertEqual(join.status, 0, join.stderr)
        XCTAssertTrue(join.stdout.hasPrefix("Usage: sd-pair join [-|<words>|<digits>]"), join.stdout)
        XCTAssertTrue(join.stdout.contains("--state-dir <dir>"), join.stdout)
        XCTAssertFalse(join.stdout.contains("ping <multiaddr>"), join.stdout)
        let ping = try run("ping", "-h")
        XCTAssertEqual(ping.status, 0, ping.stderr)
        XCTAssertTrue(ping.stdout.hasPrefix("Usage: sd-pair ping <multiaddr>"), ping.stdout)
        XCTAssertTrue(try run("code", "--help").stdout.hasPrefix("Usage: sd-pair code "))
        XCTAssertFalse(ping.stdout.contains("--state-dir"), "ping takes no common options: " + ping.stdout)
        // A near miss names what was meant.
        let jion = try run("jion")
        XCTAssertEqual(jion.status, 2)
        XCTAssertTrue(jion.stderr.contains("unknown command 'jion'; did you mean 'join'?"), jion.stderr)
        let peers = try run("join", "--peers", "x")
        XCTAssertEqual(peers.status, 2)
        XCTAssertTrue(peers.stderr.contains("unknown option '--peers'; did you mean '--peer'?"), peers.stderr)
        let far = try run("frobnicate")
        XCTAssertFalse(far.stderr.contains("did you mean"), "nothing is near: " + far.stderr)
    }

    func testFreshCodesRoundTrip() throws { try forEachBinary(checkFreshCodesRoundTrip) }

    func checkFreshCodesRoundTrip() throws {
        let a = try run("code")
        let b = try run("code")
        XCTAssertEqual(a.status, 0)
        XCTAssertEqual(a.lines.first?.split(separator: " ").count, 12)
        XCTAssertNotEqual(a.lines.first, b.lines.first, "fresh randomness each time")
        let back = try run("code", "--words", a.lines.first!)
        XCTAssertEqual(back.lines.last, a.lines.last)
    }

    func testDemoPairs() throws { try forEachBinary(checkDemoPairs) }

    func checkDemoPairs() throws {
        let r = try run("demo", "--expiry", "120")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.lines.first!.hasPrefix("sd-pair: pairing code: "))
        XCTAssertTrue(r.lines.first!.hasSuffix("(expires in 120 s)"))
        XCTAssertEqual(r.lines.filter { $0.hasPrefix("PAIRED ") }.count, 2)
        XCTAssertTrue(r.stdout.contains("session keys: both directions agree, 4 messages"))
    }

    func testEmbeddedBinaryNeedsNoSwiftRuntime() throws {
        let all = try binaries()
        guard all.count == 2 else { throw XCTSkip("SDPAIR_EMBEDDED_BIN not set (Scripts/test sets it)") }
        let r = try Self.execute(URL(fileURLWithPath: "/usr/bin/readelf"), ["-d", all[1].path])
        XCTAssertTrue(r.stdout.contains("libsodium"), r.stdout)
        XCTAssertFalse(r.stdout.contains("libswift"), "an Embedded binary needs no Swift runtime library")
    }
}
