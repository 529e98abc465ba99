import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The short-code mode (issue 19) end to end: real `sd-pair` processes over loopback, its displays and hooks.
/// (Across two hosts with real avahi-daemons: MDNSTests; under qemu: ARMTests.)
final class ShortCodeAgentTests: AgentTestCase {
    func invite(_ binary: URL, state: String, extra: [String] = []) throws -> (Spawned, address: String, code: String) {
        let p = try Spawned(binary, ["invite", "--short", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--state-dir", state, "--name", "Small NAS"] + extra)
        guard let address = p.line(startingWith: "LISTEN "), let code = p.line(startingWith: "CODE: ") else {
            XCTFail("invite did not start: " + p.stderr)
            throw CocoaError(.fileReadUnknown)
        }
        return (p, address, code)
    }

    /// Damm's check digit, computed here independently of the agent (H. M. Damm's table, row = interim digit).
    static func damm(_ digits: [Int]) -> Int {
        let table = [
            [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3], [4, 2, 0, 6, 8, 7, 1, 3, 5, 9], [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
            [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1], [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
            [9, 4, 3, 8, 6, 1, 7, 2, 0, 5], [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
        ]
        return digits.reduce(0) { table[$0][$1] }
    }

    /// The same three public digits (so the same window), other secret digits, a valid check digit.
    static func wrong(_ code: String, _ k: Int) -> String {
        var d = code.compactMap { $0.wholeNumberValue }
        for i in 3..<11 { d[i] = (d[i] + k + i) % 10 }
        d[11] = damm(Array(d[0..<11]))
        return d.map(String.init).joined()
    }

    func testShortCodesPairOverLoopbackInEveryBuildPairing() throws {
        var pairs = [(host, host)]
        if let e = embedded { pairs += [(e, host), (host, e)] }
        for (inviter, joiner) in pairs {
            let (inv, address, code) = try invite(inviter, state: stateDirectory(), extra: ["--events", "json", "--dht-bootstrap", "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWAMTnoEHdt4dWeqRkVpQSxSZ7n3eddT9PUqQFRL7nWTzd"])
            XCTAssertNotNil(code.range(of: #"^[0-9]{4}-[0-9]{4}-[0-9]{4}$"#, options: .regularExpression), code)
            XCTAssertEqual(Self.damm(code.compactMap { $0.wholeNumberValue }), 0, "the last digit checks the others")
            let waiting = inv.stdout.split(separator: "\n").first { $0.contains(#""event":"waiting""#) } ?? ""
            XCTAssertTrue(waiting.contains(#""mode":"short","digits":""# + code.replacingOccurrences(of: "-", with: "") + "\""), String(waiting))
            XCTAssertTrue(inv.stderr.contains("a short code is found by mDNS on this network only; the DHT is not used"), inv.stderr)
            XCTAssertFalse(inv.stderr.contains("DHT: looking"), inv.stderr)
            // Typed without the dashes, as on a phone's number pad.
            let j = try Spawned(joiner, ["join", code.replacingOccurrences(of: "-", with: ""), "--peer", address, "--state-dir", stateDirectory(), "--name", "Phone"])
            XCTAssertEqual(j.wait(), 0, j.stderr)
            XCTAssertEqual(inv.wait(), 0, inv.stderr)
            XCTAssertTrue(j.stdout.contains("PAIRED ") && j.stdout.contains(" Small NAS"), j.stdout)
            XCTAssertTrue(inv.stdout.contains("PAIRED ") && inv.stdout.contains(" Phone"), inv.stdout)
        }
    }

    /// A typo never reaches the network: the check digit catches it, and the joiner says what is wrong.
    func testATypoIsCaughtBeforeAnyNetworkAttempt() throws {
        for (typed, message) in [
            ("5724-0000-0001", "a digit is wrong or two neighbouring digits are swapped"), ("7524-0000-0000", "a digit is wrong or two neighbouring digits are swapped"),
            ("5724-0000-000", "a short code has 12 digits, this one has 11 (one is missing)"),
        ] {
            let j = try Spawned(host, ["join", typed, "--peer", "/ip4/127.0.0.1/tcp/9", "--state-dir", stateDirectory()])
            XCTAssertEqual(j.wait(), 2, j.stderr)
            XCTAssertTrue(j.stderr.contains(message), typed + ": " + j.stderr)
            XCTAssertFalse(j.stderr.contains("127.0.0.1"), "no dial: " + j.stderr)
        }
        // Those were typos of a valid code (Damm's own example, 572 → 4, then zeros).
        XCTAssertEqual(Self.damm([5, 7, 2]), 4)
        XCTAssertEqual(Self.damm("572400000000".compactMap { $0.wholeNumberValue }), 0)
        let noPath = try Spawned(host, ["join", "5724-0000-0000", "--no-mdns", "--state-dir", stateDirectory()])
        XCTAssertEqual(noPath.wait(), 2)
        XCTAssertTrue(noPath.stderr.contains("a short code is found by mDNS only; with --no-mdns, give the device's address with --peer"), noPath.stderr)
        let check = try Spawned(host, ["code", "--words", "572 400 000 000"])
        XCTAssertEqual(check.wait(), 0, check.stderr)
        XCTAssertTrue(check.stdout.hasPrefix("short code: 5724-0000-0000\nsession_id: "), check.stdout)
    }

    /// Valid-looking wrong codes: each is one guess, refused and counted by the device; the fifth burns the code.
    func testWrongShortCodesAreRefusedAndTheFifthBurnsTheWindow() throws {
        let (inv, address, code) = try invite(agent, state: stateDirectory())
        for k in 1...5 {
            let j = try Spawned(host, ["join", Self.wrong(code, k), "--peer", address, "--state-dir", stateDirectory()])
            XCTAssertEqual(j.wait(), 1, j.stderr)
            XCTAssertTrue(j.stderr.contains(k < 5 ? "wrong pairing code" : "disabled after too many failed attempts"), "attempt \(k): " + j.stderr)
            if k < 5 { XCTAssertTrue(inv.waitForLog("wrong pairing code (" + String(5 - k) + " attempts left)"), inv.stderr) }
        }
        XCTAssertEqual(inv.wait(), 1, "the burned window ends the invite: " + inv.stderr)
        XCTAssertTrue(inv.stderr.contains("pairing code disabled after too many failed attempts"), inv.stderr)
        XCTAssertFalse(inv.stdout.contains("PAIRED"))
    }

    /// The LCD layouts of `--display`: the short code on one 16-character line with the seconds counting down on the
    /// other; the 12 words three per 16×2 screen (their first four letters) or six per 20×4 screen; and the hook's
    /// environment with the digits and the mode.
    func testLCDLayoutsAndTheDisplayHooksEnvironment() throws {
        let state = stateDirectory()
        let directory = state + "-display"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        directories.append(URL(fileURLWithPath: directory))
        let display = directory + "/lcd", hookLog = directory + "/hook"
        let hook = "printf '%s|%s|%s|%s\\n' \"$SD_PAIR_ACTION\" \"$SD_PAIR_CODE_MODE\" \"$SD_PAIR_CODE_DIGITS\" \"$SD_PAIR_CODE\" >> '" + hookLog + "'"
        let (inv, _, code) = try invite(agent, state: state, extra: ["--display", display, "--display-format", "lcd16x2", "--display-cmd", hook, "--expiry", "120"])
        let first = try String(contentsOfFile: display, encoding: .utf8)
        XCTAssertEqual(first, code + "\n120 s left\n")
        XCTAssertTrue(first.split(separator: "\n").allSatisfy { $0.count <= 16 })
        var later = first
        for _ in 0..<60 where later == first {
            usleep(50_000)
            later = (try? String(contentsOfFile: display, encoding: .utf8)) ?? first
        }
        XCTAssertEqual(later, code + "\n119 s left\n", "counts down")
        inv.signal(SIGTERM)
        XCTAssertEqual(inv.wait(), 130)
        XCTAssertEqual(try String(contentsOfFile: display, encoding: .utf8), "", "cleared")
        var lines: [String] = []
        for _ in 0..<100 where lines.count < 2 {
            usleep(20_000)
            lines = ((try? String(contentsOfFile: hookLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(lines, ["show|short|" + code.replacingOccurrences(of: "-", with: "") + "|" + code, "clear|||"])

        for (layout, check) in [("lcd16x2", { (screen: [Substring], words: [Substring]) in
            XCTAssertEqual(screen.count, 2)
            XCTAssertEqual(String(screen[0]), words[0..<3].map { String($0.prefix(4)) }.joined(separator: " "))
            XCTAssertTrue(screen[1].hasPrefix("words 1-3 "), String(screen[1]))
            XCTAssertTrue(screen.allSatisfy { $0.count <= 16 }, screen.joined(separator: "|"))
        }), ("lcd20x4", { (screen: [Substring], words: [Substring]) in
            XCTAssertEqual(screen.count, 4)
            XCTAssertEqual(screen[0..<3].joined(separator: " "), words[0..<6].joined(separator: " "))
            XCTAssertTrue(screen[3].hasPrefix("words 1-6 "), String(screen[3]))
            XCTAssertTrue(screen.allSatisfy { $0.count <= 20 }, screen.joined(separator: "|"))
        })] {
            let p = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--display", display, "--display-format", layout])
            guard let words = p.line(startingWith: "CODE: ") else { return XCTFail(p.stderr) }
            check(try String(contentsOfFile: display, encoding: .utf8).split(separator: "\n"), words.split(separator: " "))
            p.signal(SIGTERM)
            XCTAssertEqual(p.wait(), 130)
        }
        let bad = try Spawned(agent, ["invite", "--display-format", "vfd", "--state-dir", stateDirectory()])
        XCTAssertEqual(bad.wait(), 2)
        XCTAssertTrue(bad.stderr.contains("--display-format must be words (4 lines of 3 words), lcd16x2 or lcd20x4"), bad.stderr)
    }

    /// The example LCD hook (Board/lcd16x2-hook.sh) against a plain file standing in for /dev/lcd: the short code and
    /// the seconds on show, the 12 words' first screen, and a blank screen on clear.
    func testTheExampleLCDHookDrawsAndClears() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Board/lcd16x2-hook.sh").path
        let directory = stateDirectory() + "-lcd"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        directories.append(URL(fileURLWithPath: directory))
        let lcd = directory + "/lcd"
        let hook = "LCD='" + lcd + "' TMPDIR='" + directory + "' sh '" + script + "'"
        func screen(_ expected: (String) -> Bool) -> String {
            var text = ""
            for _ in 0..<100 {
                text = (try? String(contentsOfFile: lcd, encoding: .utf8)) ?? ""
                if expected(text) { break }
                usleep(30_000)
            }
            return text
        }
        for short in [true, false] {
            let p = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--display-cmd", hook] + (short ? ["--short"] : []))
            guard let code = p.line(startingWith: "CODE: ") else { return XCTFail(p.stderr) }
            let first = short ? "\u{0C}" + code + "\n300 s left" : "\u{0C}" + code.split(separator: " ").prefix(3).map { String($0.prefix(4)) }.joined(separator: " ") + "\nwords 1-3 300s"
            XCTAssertEqual(screen { $0 == first }, first)
            p.signal(SIGTERM)
            XCTAssertEqual(p.wait(), 130)
            XCTAssertEqual(screen { $0 == "\u{0C}" }, "\u{0C}", "cleared, and the countdown stopped")
            usleep(1_200_000)
            XCTAssertEqual(try String(contentsOfFile: lcd, encoding: .utf8), "\u{0C}", "nothing drawn after the clear")
        }
    }

    /// `serve --short`: its windows have short codes, also the ones `sd-pair invite` asks for over the control socket;
    /// an invite whose own settings say words is told whose settings decide.
    func testServeShortGivesInviteAShortCode() throws {
        let state = stateDirectory()
        let serve = try Spawned(agent, ["serve", "--short", "--window-at-start", "never", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state])
        defer { serve.stop() }
        guard let address = serve.line(startingWith: "LISTEN "), serve.line(startingWith: "READY ") != nil else { return XCTFail(serve.stderr) }
        let inv = try Spawned(agent, ["invite", "--state-dir", state])
        guard let code = inv.line(startingWith: "CODE: ") else { return XCTFail(inv.stderr) }
        XCTAssertNotNil(code.range(of: #"^[0-9]{4}-[0-9]{4}-[0-9]{4}$"#, options: .regularExpression), code)
        XCTAssertTrue(inv.waitForLog("notice: the running agent chose the kind of code: its own settings decide"), inv.stderr)
        let j = try Spawned(host, ["join", code, "--peer", address, "--state-dir", stateDirectory()])
        XCTAssertEqual(j.wait(), 0, j.stderr)
        XCTAssertEqual(inv.wait(), 0, inv.stderr)
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130, serve.stderr)
    }
}
