import Crypto
import Foundation
import TestSupport
import Wire
import XCTest

@testable import Transport

#if canImport(Glibc)
import Glibc
#endif

/// The agent over real TCP on loopback: two sd-pair processes pairing, real py-libp2p peers, and hostile peers.
final class AgentTests: AgentTestCase {
    override class func setUp() { try! Sodium.initialize() }

    struct Invite {
        var process: Spawned
        var address: String
        var words: String
        var port: UInt16
    }

    func invite(_ binary: URL, state: String, extra: [String] = []) throws -> Invite {
        let p = try Spawned(binary, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state, "--name", "Test NAS"] + extra)
        guard let address = p.line(startingWith: "LISTEN "), let words = p.line(startingWith: "CODE: ") else {
            XCTFail("invite did not start: " + p.stderr)
            throw CocoaError(.fileReadUnknown)
        }
        let port = UInt16(address.split(separator: "/")[3])!
        return Invite(process: p, address: address, words: words, port: port)
    }

    func join(_ binary: URL, words: String, address: String, state: String) throws -> Spawned {
        try Spawned(binary, ["join", words, "--peer", address, "--state-dir", state, "--name", "Test Laptop"])
    }

    /// A legitimate joiner still pairs: the agent kept serving through whatever the test threw at it.
    func assertStillPairs(_ inv: Invite, file: StaticString = #filePath, line: UInt = #line) throws {
        let j = try join(host, words: inv.words, address: inv.address, state: stateDirectory())
        XCTAssertEqual(j.wait(seconds: 30), 0, "join: " + j.stderr, file: file, line: line)
        XCTAssertEqual(inv.process.wait(seconds: 10), 0, "invite: " + inv.process.stderr, file: file, line: line)
        XCTAssertTrue(inv.process.stdout.contains("PAIRED "), file: file, line: line)
    }

    // MARK: Pairing

    func testTwoAgentsPairOverLoopback() throws {
        var pairs = [(host, host)]
        if let e = embedded { pairs += [(e, host), (host, e)] }
        for (inviter, joiner) in pairs {
            let a = stateDirectory()
            let b = stateDirectory()
            let inv = try invite(inviter, state: a)
            let j = try join(joiner, words: inv.words, address: inv.address, state: b)
            XCTAssertEqual(j.wait(), 0, j.stderr)
            XCTAssertEqual(inv.process.wait(), 0, inv.process.stderr)
            // Each side names the other.
            XCTAssertTrue(j.stdout.contains(" Test NAS"), j.stdout)
            XCTAssertTrue(inv.process.stdout.contains(" Test Laptop"), inv.process.stdout)
            let invitePaired = inv.process.stdout.split(separator: "\n").first { $0.hasPrefix("PAIRED ") }!
            let joinPaired = j.stdout.split(separator: "\n").first { $0.hasPrefix("PAIRED ") }!
            XCTAssertNotEqual(invitePaired.split(separator: " ")[1], joinPaired.split(separator: " ")[1], "device ids differ")
            // Identities are private files, created once and reused.
            for dir in [a, b] {
                let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/identity")
                XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
            }
            let again = try invite(inviter, state: a)
            XCTAssertEqual(again.address.components(separatedBy: "/p2p/").last, inv.address.components(separatedBy: "/p2p/").last, "same identity on the next run")
            again.process.signal(SIGTERM)
            XCTAssertEqual(again.process.wait(), 130)
        }
    }

    func testPairsOverIPv6Loopback() throws {
        let p = try Spawned(agent, ["invite", "--listen", "/ip6/::1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory()])
        guard let address = p.line(startingWith: "LISTEN "), let words = p.line(startingWith: "CODE: ") else {
            throw XCTSkip("no IPv6 loopback here: " + p.stderr)
        }
        XCTAssertTrue(address.hasPrefix("/ip6/::1/tcp/"), address)
        let j = try join(host, words: words, address: address, state: stateDirectory())
        XCTAssertEqual(j.wait(), 0, j.stderr)
        XCTAssertEqual(p.wait(), 0, p.stderr)
    }

    func testWrongCodeIsRefusedAndNothingIsPaired() throws {
        let a = stateDirectory()
        let inv = try invite(agent, state: a)
        let wrong = "legal winner thank year wave sausage worth useful legal winner thank yellow"
        let j = try join(host, words: wrong, address: inv.address, state: stateDirectory())
        XCTAssertEqual(j.wait(), 1)
        XCTAssertTrue(j.stderr.contains("no such pairing session (wrong code?)"), j.stderr)
        XCTAssertFalse(j.stdout.contains("PAIRED"))
        // The refusal names where the attempt came from (first-contact item 7).
        XCTAssertTrue(inv.process.waitForLog("/ip4/127.0.0.1/tcp/"), inv.process.stderr)
        XCTAssertTrue(inv.process.waitForLog(": pairing request refused"), inv.process.stderr)
        XCTAssertFalse(inv.process.stdout.contains("PAIRED"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: a + "/devices"), "nothing is recorded for a wrong code")
        // The window stays open for the right code, and that pairing is recorded.
        try assertStillPairs(inv)
        XCTAssertEqual(try listed(a).count, 1)
    }

    /// The daemon: a window at start while nothing is paired, a used code refused with a clear reason, SIGUSR1
    /// for the next window, and the daemon running on until told to stop.
    func testServeOpensWindowsAndKeepsRunning() throws {
        let state = stateDirectory()
        let serve = try Spawned(agent, ["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state, "--name", "Daemon NAS"])
        guard let address = serve.line(startingWith: "LISTEN "), let first = serve.line(startingWith: "CODE: ") else {
            return XCTFail("serve did not start: " + serve.stderr)
        }
        let a = try join(host, words: first, address: address, state: stateDirectory())
        XCTAssertEqual(a.wait(), 0, a.stderr)
        XCTAssertTrue(serve.waitForLog("pairing window closed: paired"), serve.stderr)
        let again = try join(host, words: first, address: address, state: stateDirectory())
        XCTAssertEqual(again.wait(), 1)
        XCTAssertTrue(again.stderr.contains("no pairing window open"), again.stderr)
        XCTAssertTrue(serve.process.isRunning, "a closed window does not end the daemon")

        serve.signal(SIGUSR1)
        let deadline = Date().addingTimeInterval(10)
        var second: String? = nil
        while second == nil && Date() < deadline {
            second = serve.stdout.split(separator: "\n").filter { $0.hasPrefix("CODE: ") }.dropFirst().first.map { String($0.dropFirst(6)) }
            usleep(20_000)
        }
        guard let second else { return XCTFail("SIGUSR1 did not open a window: " + serve.stdout) }
        XCTAssertNotEqual(second, first)
        let b = try join(host, words: second, address: address, state: stateDirectory())
        XCTAssertEqual(b.wait(), 0, b.stderr)
        XCTAssertTrue(serve.waitForLog("pairing window closed: paired", count: 2), serve.stderr)
        XCTAssertEqual(try listed(state).count, 2)
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130)

        // With devices paired, the default start opens no window.
        let quiet = try Spawned(agent, ["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state])
        XCTAssertNotNil(quiet.line(startingWith: "READY "), quiet.stderr)
        usleep(300_000)
        XCTAssertFalse(quiet.stdout.contains("CODE: "), "auto: no window while devices are paired")
        quiet.signal(SIGTERM)
        XCTAssertEqual(quiet.wait(), 130)
    }

    /// `forget` takes a whole id, the start of one (4 characters at least, either case) or a device's name, and
    /// refuses what fits no device (first-contact item 10).
    func testForgetByIdPrefixOrName() throws {
        let state = stateDirectory()
        let ids = try recordSynthetic(3, in: state, with: host)
        func forget(_ what: String) throws -> Spawned {
            let p = try Spawned(host, ["forget", what, "--state-dir", state])
            _ = p.wait()
            return p
        }
        let byName = try forget("test device 1")
        XCTAssertEqual(byName.wait(), 0, byName.stderr)
        XCTAssertTrue(byName.stdout.contains(" (test device 1) (its keys are gone"), byName.stdout)
        let prefix = String(ids.first { !byName.stdout.contains($0) }!.prefix(6)).uppercased()
        let byPrefix = try forget(prefix)
        XCTAssertEqual(byPrefix.wait(), 0, byPrefix.stderr)
        XCTAssertEqual(try listed(state).count, 1)
        let short = try forget(String(try listed(state)[0].prefix(3)))
        XCTAssertEqual(short.wait(), 1, "3 characters are not enough")
        XCTAssertTrue(short.stderr.contains("no paired device has that id or name"), short.stderr)
        let whole = try forget(try listed(state)[0])
        XCTAssertEqual(whole.wait(), 0, whole.stderr)
        XCTAssertEqual(try listed(state), [])
    }

    /// After PAIRED, the joiner closing its connection is the normal end, not an error line (first-contact item 6).
    func testASuccessfulPairingEndsWithoutAnErrorLikeLine() throws {
        let serve = try Spawned(agent, ["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--name", "Daemon NAS"])
        guard let address = serve.line(startingWith: "LISTEN "), let code = serve.line(startingWith: "CODE: ") else {
            return XCTFail("serve did not start: " + serve.stderr)
        }
        // Ready to paste on the other device (first-contact item 2): the words, and the --peer form.
        let port = address.split(separator: "/")[3]
        XCTAssertNotNil(serve.line(startingWith: "sd-pair: on the other device: sd-pair join \"" + code + "\" (to skip discovery, add --peer /ip4/127.0.0.1/tcp/" + port + ")"), serve.stdout)
        let a = try join(host, words: code, address: address, state: stateDirectory())
        XCTAssertEqual(a.wait(), 0, a.stderr)
        XCTAssertTrue(serve.waitForLog("pairing window closed: paired"), serve.stderr)
        usleep(500_000)  // the joiner's close reaches the daemon
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130)
        XCTAssertFalse(serve.stderr.contains("connection dropped"), serve.stderr)
        XCTAssertTrue(serve.stdout.contains("PAIRED "), serve.stdout)
        // The log names who paired and from where (first-contact item 7).
        let paired = serve.stderr.split(separator: "\n").first { $0.contains(": paired with '") }.map(String.init) ?? ""
        XCTAssertTrue(paired.hasPrefix("sd-pair: /ip4/127.0.0.1/tcp/"), serve.stderr)
    }

    /// A joiner that has not found the device says every few seconds what each path has done (first-contact item 6).
    func testAJoinerThatIsStillLookingSaysWhatItHasDone() throws {
        let j = try Spawned(host, ["join", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
                                   "--no-mdns", "--dht-bootstrap", "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
                                   "--state-dir", stateDirectory(), "--expiry", "60"])
        XCTAssertTrue(j.waitForLog("still looking (", within: 12), j.stderr)
        j.signal(SIGINT)
        XCTAssertEqual(j.wait(), 130)
        let line = j.stderr.split(separator: "\n").first { $0.contains("still looking") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains(" s left): mDNS: off; DHT: ") && line.contains("no DHT peer answered, no record yet"), line)
    }

    /// invite says how the other device can find it, and warns when nothing beyond this host can (issue 17, item 2).
    func testInviteSaysWhichPathsAreLiveAndWarnsWhenNoneIs() throws {
        for (listen, extra, expected) in [
            ("/ip4/127.0.0.1/tcp/0", ["--no-mdns", "--no-dht"], "warning: listening on loopback only: no other device can reach this one"),
            ("/ip4/0.0.0.0/tcp/0", ["--no-mdns", "--no-dht"], "warning: mDNS is off and there is no DHT path: the other device finds this one only with --peer /ip4/"),
            ("/ip4/0.0.0.0/tcp/0", ["--no-mdns", "--dht-bootstrap", "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"],
             "found by the DHT (1 bootstrap peer(s)), or with --peer /ip4/"),
        ] {
            let inv = try Spawned(agent, ["invite", "--listen", listen, "--state-dir", stateDirectory(), "--no-port-mapping"] + extra)
            defer { inv.stop() }
            XCTAssertNotNil(inv.line(startingWith: "CODE: "), inv.stderr)
            XCTAssertTrue(inv.waitForLog(expected, within: 5), inv.stderr)
        }
    }

    /// Under systemd (stdout is the journal's stream, as JOURNAL_STREAM says) the code is written once, in the
    /// greppable log line, not also as the CODE: line for scripts (first-contact item 7).
    func testUnderTheJournalTheCodeIsWrittenOnce() throws {
        let out = stateDirectory() + ".journal"
        directories.append(URL(fileURLWithPath: out))
        FileManager.default.createFile(atPath: out, contents: nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        let stream = "\((attributes[.systemNumber] as! NSNumber).uint64Value):\((attributes[.systemFileNumber] as! NSNumber).uint64Value)"
        let inv = try Spawned(URL(fileURLWithPath: "/bin/sh"), ["-c", "exec \"$0\" invite --listen /ip4/127.0.0.1/tcp/0 --no-mdns --no-dht --state-dir \"$1\" >>\"$2\"", agent.path, stateDirectory(), out],
                              environment: ["JOURNAL_STREAM": stream])
        var text = ""
        for _ in 0..<100 where !text.contains("pairing code: ") {
            usleep(50_000)
            text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        }
        inv.signal(SIGINT)
        _ = inv.wait()
        XCTAssertTrue(text.contains("sd-pair: pairing code: "), text)
        XCTAssertFalse(text.contains("CODE: "), text)
        // What to run on the other device, without a second copy of the words.
        XCTAssertTrue(text.contains("sd-pair: on the other device: sd-pair join (it asks for the code) (to skip discovery, add --peer /ip4/127.0.0.1/tcp/"), text)
    }

    /// `serve` clears what a crashed agent left on the display before anything else, and a display hook that fails
    /// is named in one log line with its exit status and first stderr line (first-contact item 8).
    func testServeClearsALeftoverCodeAndReportsAFailingHook() throws {
        let state = stateDirectory()
        _ = try recordSynthetic(1, in: state, with: host)  // a paired device: the daemon opens no window at start
        let directory = state + "-display"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        directories.append(URL(fileURLWithPath: directory))
        let display = directory + "/code"
        try "legal winner thank\nyear wave sausage\n".write(toFile: display, atomically: true, encoding: .utf8)
        let serve = try Spawned(agent, ["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state,
                                        "--display", display, "--display-cmd", "echo \"no LCD on i2c-1\" >&2; exit 3"])
        XCTAssertNotNil(serve.line(startingWith: "READY "), serve.stderr)
        XCTAssertEqual(try String(contentsOfFile: display, encoding: .utf8), "", "the dead code is gone")
        XCTAssertTrue(serve.waitForLog("the display command failed (exit status 3): no LCD on i2c-1", within: 10), serve.stderr)
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130)
    }

    func testDisplayShowsTheCodeAndIsClearedWhenTheWindowCloses() throws {
        let state = stateDirectory()
        let directory = state + "-display"  // private to us: a world-writable directory such as /tmp is refused
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        directories.append(URL(fileURLWithPath: directory))
        let display = directory + "/code"
        let inv = try invite(agent, state: state, extra: ["--display", display])
        let shown = try String(contentsOfFile: display, encoding: .utf8)
        let lines = shown.split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines.allSatisfy { $0.split(separator: " ").count == 3 }, shown)
        XCTAssertEqual(lines.joined(separator: " "), inv.words)
        let mode = try FileManager.default.attributesOfItem(atPath: display)[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600, "a file showing a live code is private")
        try assertStillPairs(inv)
        XCTAssertEqual(try String(contentsOfFile: display, encoding: .utf8), "", "cleared when the window closed")
    }

    /// Review finding 5: a code holder (a guest the owner pairs, say) that claims an already paired device's id with
    /// another key is refused, and the paired device's record — its key and session keys — stays as it was.
    func testAJoinerCannotTakeOverAPairedDevicesRecord() throws {
        let nas = stateDirectory()
        let owner = stateDirectory()
        let first = try invite(agent, state: nas)
        XCTAssertEqual(try join(host, words: first.words, address: first.address, state: owner).wait(seconds: 30), 0)
        XCTAssertEqual(first.process.wait(seconds: 10), 0, first.process.stderr)
        let json = { () throws -> String in try Spawned(self.host, ["devices", "--json", "--state-dir", nas]).line(startingWith: "[") ?? "" }
        let before = try json()
        XCTAssertTrue(before.contains("peer_id"), before)
        // The guest's identity: a key of its own, the owner's device id (visible on the NAS and sent to any candidate).
        var identity = [UInt8](try Data(contentsOf: URL(fileURLWithPath: owner + "/identity")))
        XCTAssertEqual(identity.count, 64)
        for k in 8..<40 { identity[k] = UInt8.random(in: 0...255) }
        let digest = identity.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        for k in 0..<8 { identity[56 + k] = digest[k] }
        let guest = stateDirectory()
        try FileManager.default.createDirectory(atPath: guest, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        FileManager.default.createFile(atPath: guest + "/identity", contents: Data(identity), attributes: [.posixPermissions: 0o600])
        let second = try invite(agent, state: nas)
        let j = try join(host, words: second.words, address: second.address, state: guest)
        XCTAssertEqual(j.wait(seconds: 30), 1, j.stderr)
        XCTAssertTrue(j.stderr.contains("already paired a different device with this device id"), j.stderr)
        XCTAssertEqual(second.process.wait(seconds: 10), 1, second.process.stderr)
        XCTAssertTrue(second.process.stderr.contains("pairing refused: "), second.process.stderr)
        XCTAssertEqual(try json(), before, "the owner's record (its key, its session keys' owner) is unchanged")
        XCTAssertEqual(try listed(guest).count, 0, "the guest recorded nothing")
    }

    /// Review finding 4: --display receives a live code, so it never follows a link, never opens a FIFO (which
    /// blocked the agent until someone read the code from it), never writes through a file someone else made, and
    /// refuses a directory other users can write — each with a message that names the cause, before any window.
    func testDisplayPathAttacksAreRefused() throws {
        let base = stateDirectory() + "-display"
        directories.append(URL(fileURLWithPath: base))
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/private", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try fm.createDirectory(atPath: base + "/shared", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        try fm.createDirectory(atPath: base + "/theirs", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        XCTAssertEqual(chown(base + "/theirs", 65534, 65534), 0)
        let victim = base + "/victim"
        try "IMPORTANT CONTENT\n".write(toFile: victim, atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: base + "/private/link", withDestinationPath: victim)
        try fm.createSymbolicLink(atPath: base + "/theirs/code.txt", withDestinationPath: victim)
        XCTAssertEqual(mkfifo(base + "/private/fifo", 0o622), 0)
        let refused: [(String, String)] = [
            (base + "/private/link", "is a symbolic link"),
            (base + "/theirs/code.txt", "is a symbolic link"),
            (base + "/theirs/new.txt", "owned by another user"),
            (base + "/shared/code.txt", "writable by other users"),
            (base + "/private/fifo", "neither a regular file nor a character device"),
            (base + "/private", "is a directory"),
        ]
        for (path, why) in refused {
            let started = Date()
            let p = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory(), "--display", path])
            XCTAssertEqual(p.wait(seconds: 10), 2, path + ": " + p.stderr)
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, "nothing blocks on " + path)
            XCTAssertTrue(p.stderr.contains("--display: ") && p.stderr.contains(why), path + ": " + p.stderr)
            XCTAssertFalse(p.stdout.contains("CODE: "), "no window with a refused display")
        }
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "IMPORTANT CONTENT\n", "the link's target is untouched")
        // A file another user made in our directory (before it was ours alone, say) is replaced, never written through.
        let planted = base + "/private/code.txt"
        try "".write(toFile: planted, atomically: false, encoding: .utf8)
        XCTAssertEqual(chown(planted, 65534, 65534), 0)
        XCTAssertEqual(chmod(planted, 0o644), 0)
        XCTAssertEqual(link(planted, base + "/planted-hardlink"), 0)
        let inv = try invite(agent, state: stateDirectory(), extra: ["--display", planted])
        let attributes = try fm.attributesOfItem(atPath: planted)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual((attributes[.ownerAccountID] as? NSNumber)?.intValue, Int(geteuid()))
        XCTAssertEqual(try String(contentsOfFile: planted, encoding: .utf8).split(separator: "\n").joined(separator: " "), inv.words)
        XCTAssertEqual(try String(contentsOfFile: base + "/planted-hardlink", encoding: .utf8), "", "the other user's copy never saw the code")
        try assertStillPairs(inv)
    }

    /// Board/sd-pair.service passes `systemd-analyze verify` (with ExecStart pointed at the built binary, since
    /// verify checks that the command exists).
    func testSystemdUnitVerifies() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("systemd-analyze missing (.ci/run installs systemd)") }
            throw XCTSkip("systemd-analyze not installed")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let unit = try String(contentsOf: root.appendingPathComponent("Board/sd-pair.service"), encoding: .utf8)
        let dir = stateDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/sd-pair.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/sd-pair", with: host.path).write(toFile: path, atomically: true, encoding: .utf8)
        let verify = try Spawned(URL(fileURLWithPath: "/usr/bin/systemd-analyze"), ["verify", path])
        XCTAssertEqual(verify.wait(), 0, verify.stderr)
        XCTAssertEqual(verify.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warnings")
        for line in ["DynamicUser=yes", "StateDirectory=sd-pair", "NoNewPrivileges=yes", "ProtectSystem=strict", "MemoryMax=8M", "Restart=on-failure"] {
            XCTAssertTrue(unit.contains(line), line)
        }
        // With the display drop-in (Board/sd-pair-display.conf) in place, it still verifies.
        try FileManager.default.createDirectory(atPath: path + ".d", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: root.appendingPathComponent("Board/sd-pair-display.conf").path, toPath: path + ".d/display.conf")
        let withDisplay = try Spawned(URL(fileURLWithPath: "/usr/bin/systemd-analyze"), ["verify", path])
        XCTAssertEqual(withDisplay.wait(), 0, withDisplay.stderr)
        XCTAssertEqual(withDisplay.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warnings")
        // The example settings file is valid (every line is checked, whichever command reads it).
        let example = root.appendingPathComponent("Board/sd-pair.conf").path
        try FileManager.default.createDirectory(atPath: dir + "/state", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let check = try Spawned(host, ["devices", "--config", example, "--state-dir", dir + "/state"])
        XCTAssertEqual(check.wait(), 0, check.stderr)
    }

    func events(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testEventsJSONFollowThePairing() throws {
        let inv = try invite(agent, state: stateDirectory(), extra: ["--events", "json"])
        let wrong = try Spawned(host, ["join", "legal winner thank year wave sausage worth useful legal winner thank yellow", "--peer", inv.address, "--state-dir", stateDirectory(), "--events", "json"])
        XCTAssertEqual(wrong.wait(), 1)
        XCTAssertEqual(try events(wrong.stdout).map { $0["event"] as! String }, ["connecting", "request-sent", "failed"])
        XCTAssertTrue((try events(wrong.stdout).last?["reason"] as? String)?.contains("wrong code") == true, wrong.stdout)

        let j = try Spawned(host, ["join", inv.words, "--peer", inv.address, "--state-dir", stateDirectory(), "--name", "Web UI Laptop", "--events", "json"])
        XCTAssertEqual(j.wait(), 0, j.stderr)
        XCTAssertEqual(inv.process.wait(), 0, inv.process.stderr)
        let joinEvents = try events(j.stdout)
        XCTAssertEqual(joinEvents.map { $0["event"] as! String }, ["connecting", "request-sent", "challenge-received", "completed"])
        XCTAssertEqual(joinEvents[2]["device_name"] as? String, "Test NAS")
        let inviteEvents = try events(inv.process.stdout)
        XCTAssertEqual(inviteEvents.map { $0["event"] as! String }, ["waiting", "challenge-sent", "completed"])
        XCTAssertEqual(inviteEvents[0]["expires_in"] as? Int, 300)
        XCTAssertEqual(inviteEvents[0]["code"] as? String, inv.words, "a web UI shows the code from the waiting event")
        XCTAssertEqual(inviteEvents[2]["device_name"] as? String, "Web UI Laptop")
        XCTAssertNotNil(inviteEvents[0]["time"] as? Int)
        let xml = try Spawned(host, ["join", inv.words, "--peer", inv.address, "--events", "xml"])
        XCTAssertEqual(xml.wait(), 2)
        XCTAssertTrue(xml.stderr.contains("--events takes json"), xml.stderr)
        // json:<fd>: the events on a stream of their own, stdout keeps only the result lines (first-contact item 7).
        let out = stateDirectory() + ".events"
        directories.append(URL(fileURLWithPath: out))
        let inv2 = try invite(agent, state: stateDirectory())
        let own = try Spawned(URL(fileURLWithPath: "/bin/sh"), ["-c", "exec \"$0\" join \"$1\" --peer \"$2\" --state-dir \"$3\" --events json:3 3>\"$4\"",
                                                                 host.path, inv2.words, inv2.address, stateDirectory(), out])
        XCTAssertEqual(own.wait(), 0, own.stderr)
        XCTAssertFalse(own.stdout.contains("{\"event\""), own.stdout)
        let written = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(written.last?["event"] as? String, "completed", "\(written)")
        for bad in ["json:1", "json:9999", "json:x"] {
            let p = try Spawned(host, ["join", inv2.words, "--peer", inv2.address, "--events", bad])
            XCTAssertEqual(p.wait(), 2, bad)
            XCTAssertTrue(p.stderr.contains("json:<fd>"), p.stderr)
        }
    }

    /// Ctrl-C with a window open: a UI following `--events json` hears `window-closed`, as for any other end.
    func testInterruptClosesTheWindowInTheEvents() throws {
        for command in ["invite", "serve"] {
            let p = try Spawned(agent, [command, "--no-mdns", "--no-dht", "--listen", "/ip4/127.0.0.1/tcp/0", "--state-dir", stateDirectory(), "--events", "json"]
                                + (command == "serve" ? ["--window-at-start", "always"] : []))
            XCTAssertNotNil(p.line(startingWith: "{\"event\":\"waiting\""), command + ": " + p.stderr)
            p.signal(SIGINT)
            XCTAssertEqual(p.wait(seconds: 10), 130, command + ": " + p.stderr)
            let events = p.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }
            XCTAssertTrue(events.last?.hasPrefix("{\"event\":\"window-closed\",") == true, command + ": " + p.stdout)
        }
    }

    func testConfigFileSetsOptionsAndFlagsOverrideIt() throws {
        let dir = stateDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let conf = dir + "/sd-pair.conf"
        // A quoted value means the text inside the quotes (the joiner must see the name without them).
        try "# an agent on a test host\nname = \"Config NAS\"\nexpiry = 120\nevents = json\nlisten = /ip4/127.0.0.1/tcp/1\nno-mdns = true\nno-dht = true\nwindow-at-start = always\n"
            .write(toFile: conf, atomically: true, encoding: .utf8)
        // --listen on the command line replaces the file's; --expiry overrides it; the rest comes from the file.
        let p = try Spawned(agent, ["invite", "--config", conf, "--state-dir", dir + "/state", "--listen", "/ip4/127.0.0.1/tcp/0", "--expiry", "200"])
        guard let address = p.line(startingWith: "LISTEN "), let words = p.line(startingWith: "CODE: ") else { return XCTFail(p.stderr) }
        XCTAssertFalse(address.contains("/tcp/1/"), address)
        XCTAssertTrue(p.stdout.contains("(expires in 200 s)"), p.stdout)
        XCTAssertTrue(p.stdout.contains("{\"event\":\"waiting\""), "events = json from the file")
        let j = try join(host, words: words, address: address, state: stateDirectory())
        XCTAssertEqual(j.wait(), 0, j.stderr)
        XCTAssertTrue(j.stdout.contains(" Config NAS"), j.stdout)
        XCTAssertFalse(j.stdout.contains("\"Config NAS\""), j.stdout)
        XCTAssertEqual(p.wait(), 0, p.stderr)
    }

    /// `--peer` as people write addresses (host:port, [v6]:port, no peer id), and never the wildcard address.
    func testPeerAcceptsHostPortAndRefusesTheWildcard() throws {
        let inv = try invite(agent, state: stateDirectory())
        let port = inv.address.components(separatedBy: "/tcp/")[1].components(separatedBy: "/")[0]
        let j = try Spawned(host, ["join", inv.words, "--peer", "127.0.0.1:" + port, "--state-dir", stateDirectory()])
        XCTAssertEqual(j.wait(), 0, j.stderr)
        XCTAssertEqual(inv.process.wait(), 0, inv.process.stderr)
        for wildcard in ["0.0.0.0:4001", "[::]:4001", "/ip4/0.0.0.0/tcp/4001"] {
            let w = try Spawned(host, ["join", inv.words, "--peer", wildcard, "--state-dir", stateDirectory()])
            XCTAssertEqual(w.wait(), 2, wildcard)
            XCTAssertTrue(w.stderr.contains("is where the device listens on all its addresses, not an address to dial"), w.stderr)
        }
    }

    func testConfigFileErrorsNameTheLine() throws {
        let dir = stateDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cases: [(String, String)] = [
            ("name = ok\nlisen = /ip4/0.0.0.0/tcp/1\n", ":2: unknown key 'lisen'"),
            ("expiry = 5\n", ":1: expiry: must be a number from 60 to 600"),
            ("\n# comment\nlisten = 0.0.0.0:4001\n", ":3: listen: must be a multiaddr"),
            ("no-dht = yes\n", ":1: no-dht: must be true or false"),
            ("just words\n", ":1: expected key = value"),
        ]
        for (k, (text, expected)) in cases.enumerated() {
            let conf = dir + "/bad\(k).conf"
            try text.write(toFile: conf, atomically: true, encoding: .utf8)
            let p = try Spawned(agent, ["serve", "--config", conf, "--state-dir", dir + "/state"])
            XCTAssertEqual(p.wait(), 2)
            XCTAssertEqual(p.stderr.split(separator: "\n").count, 1, p.stderr)
            XCTAssertTrue(p.stderr.contains(conf + expected), p.stderr)
        }
        let missing = try Spawned(agent, ["serve", "--config", dir + "/none.conf"])
        XCTAssertEqual(missing.wait(), 2)
        XCTAssertTrue(missing.stderr.contains("cannot read config file"), missing.stderr)
    }

    func testDisplayCommandRunsOnShowAndClear() throws {
        let state = stateDirectory()
        let log = state + ".hook"
        directories.append(URL(fileURLWithPath: log))
        let hook = "printf '%s|%s|%s\\n' \"$SD_PAIR_ACTION\" \"$SD_PAIR_CODE\" \"$SD_PAIR_EXPIRES_IN\" >> '" + log + "'"
        let inv = try invite(agent, state: state, extra: ["--display-cmd", hook])
        try assertStillPairs(inv)
        var lines: [String] = []
        for _ in 0..<100 {  // the hook runs detached: give it a moment
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            lines = text.split(separator: "\n").map(String.init)
            if lines.count >= 2 { break }
            usleep(20_000)
        }
        let expected: [String] = ["show|" + inv.words + "|300", "clear||0"]
        XCTAssertEqual(lines, expected, "shown once, cleared once")
    }

    func testInterruptedInviteExits130() throws {
        let inv = try invite(agent, state: stateDirectory())
        inv.process.signal(SIGINT)
        XCTAssertEqual(inv.process.wait(), 130)
    }

    // MARK: Interop with the real py-libp2p

    func python() throws -> URL {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import libp2p"]
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        if check.terminationStatus != 0 {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("py-libp2p is not installed (.ci/run installs libp2p==0.8.1)") }
            throw XCTSkip("py-libp2p not installed: pip install libp2p==0.8.1")
        }
        return URL(fileURLWithPath: "/usr/bin/env")
    }

    var fixture: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/py_peer.py").path }

    func testOurDialerPingsPyLibp2p() throws {
        let py = try Spawned(try python(), ["python3", fixture, "listen", "--timeout", "60"])
        defer { py.stop() }
        guard let address = py.line(startingWith: "LISTEN ", within: 60) else { return XCTFail("py-libp2p did not start: " + py.stderr) }
        for binary in [host] + (embedded.map { [$0] } ?? []) {
            let ping = try Spawned(binary, ["ping", address])
            XCTAssertEqual(ping.wait(), 0, ping.stderr)
            XCTAssertEqual(ping.stdout.split(separator: "\n").filter { $0.hasPrefix("PING ") }.count, 3, ping.stdout)
        }
    }

    func testPyLibp2pDialsOurListenerForEchoAndPing() throws {
        let inv = try invite(agent, state: stateDirectory(), extra: ["--test-echo"])
        let py = try Spawned(try python(), ["python3", fixture, "dial", inv.address, "--timeout", "60"])
        XCTAssertEqual(py.wait(seconds: 90), 0, py.stdout + py.stderr)
        XCTAssertTrue(py.stdout.contains("ECHO hello from py-libp2p"), py.stdout)
        XCTAssertEqual(py.stdout.split(separator: "\n").filter { $0.hasPrefix("PING ") }.count, 3, py.stdout)
        XCTAssertTrue(py.stdout.contains("DONE"))
        // Identify, as py-libp2p parses it: where py's connection comes from, our key, and what we offer now.
        let identify = py.stdout.split(separator: "\n").first { $0.hasPrefix("IDENTIFY ") }.map { $0.split(separator: " ").map(String.init) } ?? []
        XCTAssertEqual(identify.count, 7, py.stdout)
        XCTAssertTrue(identify.count > 1 && identify[1].hasPrefix("/ip4/127.0.0.1/tcp/"), py.stdout)
        XCTAssertEqual(Array(identify.dropFirst(2)), ["True", "/ipfs/ping/1.0.0", "/ipfs/id/1.0.0", "/sd-pair/pairing/1.0.0", "/sd-pair/test-echo/1.0.0"], py.stdout)
        try assertStillPairs(inv)
    }

    // MARK: Hostile peers

    /// multistream header + "/noise" proposal + Noise message 1: the first flight of a valid dialer.

    func testGarbageIsDroppedWithOneLogLine() throws {
        let inv = try invite(agent, state: stateDirectory())
        let garbage: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\nHost: nas\r\n\r\n".utf8),
            [UInt8](repeating: 0xFF, count: 64),
            [0x13] + Array("/multistream/9.9.9\n".utf8),
        ]
        for (k, bytes) in garbage.enumerated() {
            let c = RawClient(port: inv.port)!
            c.send(bytes)
            XCTAssertTrue(c.waitForClose(), "garbage \(k) must be dropped")
        }
        XCTAssertTrue(inv.process.waitForLog("connection dropped", count: garbage.count), inv.process.stderr)
        try assertStillPairs(inv)
    }

    func testHandshakeTruncatedAtEveryByte() throws {
        let inv = try invite(agent, state: stateDirectory())
        let flight = libp2pFirstFlight()
        for cut in 0..<flight.count {
            let c = RawClient(port: inv.port)!
            c.send(Array(flight.prefix(cut)))
        }
        // Each truncated connection is dropped with a line, or — when newer ones found the table full — replaced and
        // counted in a "dropped N connection(s)" line.
        let deadline = Date().addingTimeInterval(30)
        while Self.accountedConnections(inv.process.stderr) < flight.count && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(Self.accountedConnections(inv.process.stderr), flight.count, inv.process.stderr)
        try assertStillPairs(inv)
    }

    /// Connections the agent has reported closing: one per "connection dropped" line, N per eviction summary.
    static func accountedConnections(_ log: String) -> Int {
        var n = log.components(separatedBy: "connection dropped").count - 1
        for line in log.split(separator: "\n") where line.contains("connection table full: dropped ") {
            n += Int(line.split(separator: " ")[5]) ?? 0
        }
        return n
    }

    func testOversizedLengthPrefixesAreRefusedAtOnce() throws {
        let inv = try invite(agent, state: stateDirectory())
        // After a valid header: a proposal claiming 2^32 bytes; after a valid negotiation: a Noise frame claiming
        // 65535 bytes. (A first message of the wrong length is refused as a wrong header: testGarbage….)
        var buffer = [UInt8](repeating: 0, count: 64)
        let headerLength = buffer.withUnsafeMutableBytes { raw -> Int in
            var w = ByteWriter(raw)
            try! Multistream.write("/multistream/1.0.0", into: &w)
            return w.count
        }
        let header = Array(buffer.prefix(headerLength))
        let oversizedVarint = header + [0x80, 0x80, 0x80, 0x80, 0x10]
        let negotiation = Array(libp2pFirstFlight().dropLast(34))
        let noise = negotiation + [0xFF, 0xFF, 1, 2, 3]
        for bytes in [oversizedVarint, noise] {
            let c = RawClient(port: inv.port, timeoutSeconds: 3)!
            c.send(bytes)
            XCTAssertTrue(c.waitForClose(), "oversized prefix must be refused without waiting for the bytes")
        }
        XCTAssertTrue(inv.process.waitForLog("connection dropped", count: 2), inv.process.stderr)
        XCTAssertTrue(inv.process.stderr.contains("oversized protocol negotiation message"), inv.process.stderr)
        XCTAssertTrue(inv.process.stderr.contains("malformed Noise handshake message"), inv.process.stderr)
        try assertStillPairs(inv)
    }

    func testWrongNoisePayloadSignatureIsRefused() throws {
        let inv = try invite(agent, state: stateDirectory())
        let c = RawClient(port: inv.port)!
        var rng = SystemRandom()
        var hs = NoiseHandshake(role: .initiator, identity: Ed25519.KeyPair.generate(using: &rng), random: &rng)
        hs.testingSignsForeignStaticKey = true
        let flight = libp2pFirstFlight()
        // Send only the multistream part, then our own message 1 (the flight's message 1 belongs to another handshake).
        let negotiation = Array(flight.prefix(flight.count - 34))
        c.send(negotiation)
        XCTAssertEqual(c.read(negotiation.count), negotiation, "the listener echoes header and /noise")
        var buffer = [UInt8](repeating: 0, count: 512)
        let m1 = buffer.withUnsafeMutableBytes { try! hs.writeMessage(into: $0) }
        c.send([0, UInt8(m1)] + buffer.prefix(m1))
        guard let header = c.read(2) else { return XCTFail("no message 2") }
        let length = Int(header[0]) << 8 | Int(header[1])
        guard let m2 = c.read(length) else { return XCTFail("short message 2") }
        try m2.withUnsafeBytes { try hs.readMessage($0) }
        let m3 = buffer.withUnsafeMutableBytes { try! hs.writeMessage(into: $0) }
        c.send([UInt8(m3 >> 8), UInt8(m3 & 0xFF)] + buffer.prefix(m3))
        XCTAssertTrue(c.waitForClose())
        XCTAssertTrue(inv.process.waitForLog("peer identity signature does not verify"), inv.process.stderr)
        try assertStillPairs(inv)
    }

    func testSlowDripPeerHitsTheHandshakeTimeout() throws {
        let inv = try invite(agent, state: stateDirectory(), extra: ["--handshake-timeout", "1"])
        let c = RawClient(port: inv.port)!
        let flight = libp2pFirstFlight()
        let start = Date()
        var dropped = false
        for byte in flight.prefix(40) {
            c.send([byte])
            usleep(100_000)
            if inv.process.stderr.contains("handshake timeout") {
                dropped = true
                break
            }
        }
        XCTAssertTrue(dropped || inv.process.waitForLog("handshake timeout (1 s)", within: 5), inv.process.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 4)
        try assertStillPairs(inv)
    }

    func testMoreConnectionsThanTheTableHolds() throws {
        let inv = try invite(agent, state: stateDirectory())
        // 100 silent connections against a table of four: each newcomer replaces the oldest unfinished handshake,
        // so the real joiner gets in at once instead of waiting out 96 handshake timeouts (10 s each) in the backlog.
        let idle = (0..<100).compactMap { _ in RawClient(port: inv.port) }
        XCTAssertEqual(idle.count, 100)
        XCTAssertTrue(inv.process.waitForLog("connection table full: dropped 1 connection(s) that had not proved the code (1 in their handshake, 0 established)"), inv.process.stderr)
        let started = Date()
        try assertStillPairs(inv)
        XCTAssertLessThan(Date().timeIntervalSince(started), 8, "paired before any handshake timeout freed a slot")
        XCTAssertFalse(inv.process.stderr.contains("handshake timeout"), inv.process.stderr)
    }

    func testSilentEstablishedConnectionsAreDroppedWhenIdle() throws {
        // Four real libp2p peers (py-libp2p) finish Noise and yamux, then say nothing: they hold every slot (a newcomer
        // could replace them) until the idle timeout (3 × --handshake-timeout) drops them.
        let py = try python()
        let inv = try invite(agent, state: stateDirectory(), extra: ["--handshake-timeout", "1"])
        let peers = try (0..<4).map { _ in try Spawned(py, ["python3", fixture, "dial", inv.address, "--idle", "20"]) }
        XCTAssertTrue(inv.process.waitForLog("connection dropped: idle for 3 s", count: 4, within: 15), inv.process.stderr)
        try assertStillPairs(inv)
        for p in peers { p.stop() }
    }

    // MARK: Allocations

    /// Allocations of a listener process over one connection that carries `pings` ping round trips.
    func listenerAllocations(_ binary: URL, counter: String, pings: Int) throws -> Int {
        let countFile = stateDirectory() + ".count"
        directories.append(URL(fileURLWithPath: countFile))
        let p = try Spawned(
            binary, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", stateDirectory()],
            environment: ["LD_PRELOAD": counter, "MALLOC_COUNT_FILE": countFile])
        guard let address = p.line(startingWith: "LISTEN ") else { throw CocoaError(.fileReadUnknown) }
        let ping = try Spawned(host, ["ping", address, "--count", String(pings)])
        XCTAssertEqual(ping.wait(), 0, ping.stderr)
        // Same end state in both runs: the listener has seen the close (and logged it) before it is stopped.
        XCTAssertTrue(p.waitForLog("connection dropped"), p.stderr)
        p.signal(SIGTERM)
        XCTAssertEqual(p.wait(), 130)
        let text = try String(contentsOfFile: countFile, encoding: .utf8)
        return Int(text.split(separator: " ").last!.trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    /// After a connection is set up, serving messages allocates nothing: a connection carrying 100 pings costs
    /// the listener exactly as many heap allocations as one carrying 1.
    func testNoHeapAllocationPerMessage() throws {
        guard let binary = embedded else { throw XCTSkip("needs the Embedded build (Scripts/test)") }
        let dir = stateDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let counter = dir + "/malloc_count.so"
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Support/malloc_count.c").path
        let cc = try Spawned(URL(fileURLWithPath: "/usr/bin/env"), ["cc", "-shared", "-fPIC", "-O2", source, "-o", counter])
        XCTAssertEqual(cc.wait(), 0, cc.stderr)
        let one = try listenerAllocations(binary, counter: counter, pings: 1)
        let hundred = try listenerAllocations(binary, counter: counter, pings: 100)
        XCTAssertGreaterThan(one, 0, "the counter works")
        XCTAssertEqual(hundred, one, "99 more ping round trips must not allocate (1 ping: \(one), 100 pings: \(hundred))")
    }

    // MARK: Registry under faults

    /// SIGKILL the writer at random points, 200 times: after each kill the file parses and every acknowledged
    /// record is in it.
    func testRegistrySurvivesSIGKILLDuringUpdates() throws {
        let state = stateDirectory()
        var acknowledged = Set<String>()
        var rng = SystemRandomNumberGenerator()
        let deadline = Date().addingTimeInterval(120)
        var kills = 0
        while kills < 200 && Date() < deadline {
            let writer = try Spawned(agent, ["registry-test-writer", "--state-dir", state, "--count", "4"])
            usleep(UInt32.random(in: 0..<15_000, using: &rng))
            writer.signal(SIGKILL)
            writer.wait(seconds: 10)
            kills += 1
            for line in writer.stdout.split(separator: "\n") where line.hasPrefix("ACK ") { acknowledged.insert(String(line.dropFirst(4))) }
            let present = Set(try listed(state))
            let lost = acknowledged.subtracting(present)
            XCTAssertTrue(lost.isEmpty, "acknowledged records lost after kill \(kills): \(lost)")
            if !lost.isEmpty { return }
            if present.count > 48 {
                // Keep room under the registry's capacity: start over with an empty registry.
                for file in ["devices", "devices.prev"] { try? FileManager.default.removeItem(atPath: state + "/" + file) }
                acknowledged.removeAll()
            }
        }
        XCTAssertEqual(kills, 200, "bounded at 120 s")
    }

    func testFullDiskLosesNothingAndSaysSo() throws {
        let state = stateDirectory()
        let before = try recordSynthetic(2, in: state, with: agent)
        // RLIMIT_FSIZE 0: every write of file data fails with EFBIG, as on a full disk.
        let limited = try Spawned(URL(fileURLWithPath: "/bin/sh"), ["-c", "ulimit -f 0; exec \"$0\" registry-test-writer --state-dir \"$1\" --count 1", agent.path, state])
        XCTAssertEqual(limited.wait(), 3)
        XCTAssertEqual(limited.stderr.split(separator: "\n").count, 1, limited.stderr)
        XCTAssertTrue(limited.stderr.contains("disk full or file size limit") && limited.stderr.contains("nothing was changed"), limited.stderr)
        XCTAssertEqual(try listed(state), before, "nothing lost")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: state).filter { $0.contains(".tmp.") }
        XCTAssertEqual(leftovers, [], "no temp files left behind")
    }

    func testUnusableStateDirectoryIsOneClearLine() throws {
        let p = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--state-dir", "/dev/null/sd-pair"])
        XCTAssertEqual(p.wait(), 3)
        XCTAssertEqual(p.stderr.split(separator: "\n").count, 1, p.stderr)
        XCTAssertTrue(p.stderr.contains("cannot use state directory /dev/null/sd-pair"), p.stderr)
    }
}
