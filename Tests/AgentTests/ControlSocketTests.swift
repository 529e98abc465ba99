import Crypto
import Foundation
import XCTest

@testable import Agent

#if canImport(Glibc)
import Glibc
#endif

/// `sd-pair invite` while `sd-pair serve` runs: the request goes over the daemon's control socket (real processes,
/// a real unix socket, loopback TCP for the pairing itself).
final class ControlSocketTests: AgentTestCase {
    func serve(_ state: String) throws -> (process: Spawned, address: String) {
        let p = try Spawned(agent, [
            "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state, "--name", "Daemon NAS",
            "--window-at-start", "never",
        ])
        guard let address = p.line(startingWith: "LISTEN "), p.line(startingWith: "READY ") != nil else {
            XCTFail("serve did not start: " + p.stderr)
            throw CocoaError(.fileReadUnknown)
        }
        return (p, address)
    }

    func ask(_ state: String, _ request: String) -> String? {
        guard let client = RawClient(unixPath: state + "/control") else { return nil }
        client.send(Array(request.utf8))
        return client.readToEnd()
    }

    func testInviteAsksTheRunningDaemonAndFollowsTheWindow() throws {
        let state = stateDirectory()
        let (daemon, address) = try serve(state)
        var info = stat()
        XCTAssertEqual(stat(state + "/control", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600, "the control socket opens pairing windows: owner only")
        XCTAssertEqual(ask(state, "status\n"), "status idle\n")

        let invite = try Spawned(agent, ["invite", "--state-dir", state, "--events", "json"])
        guard let words = invite.line(startingWith: "CODE: ") else { return XCTFail("no code: " + invite.stderr) }
        XCTAssertNotNil(invite.line(startingWith: "sd-pair: pairing code: " + words + " (expires in 300 s)"), invite.stdout)
        XCTAssertTrue(invite.stderr.contains("asking it for a pairing window"), invite.stderr)
        XCTAssertTrue(daemon.stdout.contains("CODE: " + words), "the daemon logs the code it opened: " + daemon.stdout)
        XCTAssertTrue(ask(state, "status\n")?.hasPrefix("status open 29") ?? false, "one window, its time left")

        let second = try Spawned(agent, ["invite", "--state-dir", state])
        XCTAssertEqual(second.wait(), 1)
        XCTAssertTrue(second.stderr.contains("a pairing window is already open"), second.stderr)
        XCTAssertFalse(second.stdout.contains("CODE: "), "no second code while one window is open")

        let joiner = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory(), "--name", "Laptop"])
        XCTAssertEqual(joiner.wait(), 0, joiner.stderr)
        XCTAssertEqual(invite.wait(), 0, invite.stderr)
        let paired = try XCTUnwrap(invite.line(startingWith: "PAIRED "))
        XCTAssertTrue(paired.hasSuffix(" Laptop"), paired)
        // --events json on a delegated invite: the same events a standalone one prints, from the daemon's replies.
        let events = invite.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(events.map { $0["event"] as? String }, ["waiting", "completed"])
        XCTAssertEqual(events.first?["code"] as? String, words)
        XCTAssertEqual(events.first?["expires_in"] as? Int, 300)
        XCTAssertEqual(events.last?["device_name"] as? String, "Laptop")
        XCTAssertEqual(try listed(state).count, 1)
        XCTAssertEqual(ask(state, "status\n"), "status idle\n")
        XCTAssertTrue(daemon.process.isRunning)
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.wait(), 130)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/control"), "the socket is removed at shutdown")
    }

    func testLeavingInviteClosesItsWindow() throws {
        let state = stateDirectory()
        let (daemon, address) = try serve(state)
        let invite = try Spawned(agent, ["invite", "--state-dir", state, "--events", "json"])
        guard let words = invite.line(startingWith: "CODE: ") else { return XCTFail("no code: " + invite.stderr) }
        invite.signal(SIGINT)
        XCTAssertEqual(invite.wait(), 130)
        XCTAssertTrue(daemon.waitForLog("pairing window closed: cancelled"), daemon.stderr)
        let joiner = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory()])
        XCTAssertEqual(joiner.wait(), 1, "the cancelled code pairs nothing")
        XCTAssertEqual(try listed(state), [])
        // The daemon goes on: the next invite gets a new window.
        let next = try Spawned(agent, ["invite", "--state-dir", state])
        XCTAssertNotNil(next.line(startingWith: "CODE: "), next.stderr)
        next.signal(SIGTERM)
        XCTAssertEqual(next.wait(), 130)
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.wait(), 130)
    }

    func testOneDaemonPerStateDirectoryAndAStaleSocketIsReplaced() throws {
        let state = stateDirectory()
        let (first, _) = try serve(state)
        let other = try Spawned(agent, ["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state])
        XCTAssertEqual(other.wait(), 3)
        XCTAssertTrue(other.stderr.contains("another agent is serving"), other.stderr)
        XCTAssertEqual(ask(state, "status\n"), "status idle\n", "the refused second daemon left the first one's socket alone")

        first.stop()  // SIGKILL: the socket file stays behind, nobody accepts on it
        XCTAssertTrue(FileManager.default.fileExists(atPath: state + "/control"))
        let (again, _) = try serve(state)
        XCTAssertEqual(ask(state, "status\n"), "status idle\n")
        again.signal(SIGTERM)
        XCTAssertEqual(again.wait(), 130)
    }

    func testControlSocketRefusesJunkAndSilentClients() throws {
        let state = stateDirectory()
        let (daemon, _) = try serve(state)
        XCTAssertEqual(ask(state, "open sesame\n"), "error unknown request (expected invite or status)\n")
        XCTAssertEqual(ask(state, String(repeating: "x", count: 100)), "error request too long\n")
        // A client that says nothing holds one of two slots for at most 5 s; the other slot still answers.
        let silent = try XCTUnwrap(RawClient(unixPath: state + "/control", timeoutSeconds: 10))
        XCTAssertEqual(ask(state, "status\n"), "status idle\n")
        let started = Date()
        XCTAssertEqual(silent.readToEnd(), "", "closed without a reply")
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
        XCTAssertTrue(daemon.process.isRunning)
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.wait(), 130)
    }

    // MARK: The protocol, sans-IO

    func request(_ text: String) -> Result<ControlRequest?, ControlProtocolError> {
        Array(text.utf8).withUnsafeBytes { ControlProtocol.request($0) }
    }

    func reply(_ text: String) -> ControlReply? {
        Array(text.utf8).withUnsafeBytes { ControlProtocol.reply($0) }
    }

    func testRequestsAndRepliesParse() {
        XCTAssertEqual(request("invite\n"), .success(.invite))
        XCTAssertEqual(request("status\r\n"), .success(.status))
        XCTAssertEqual(request("invi"), .success(nil), "no newline yet: wait")
        XCTAssertEqual(request("INVITE\n"), .failure(.unknown))
        XCTAssertEqual(request("invite now\n"), .failure(.unknown))
        XCTAssertEqual(request("\n"), .failure(.unknown))
        XCTAssertEqual(request(String(repeating: "a", count: 64)), .failure(.oversized))
        XCTAssertEqual(request(String(repeating: "a", count: 70) + "\n"), .failure(.oversized))

        let replies = [
            ControlReply(.code, "a b c"), ControlReply(.expires, "300"), ControlReply(.paired, "id name with spaces"),
            ControlReply(.closed, "pairing code expired"), ControlReply(.status, "idle"), ControlReply(.error, "x"),
        ]
        XCTAssertEqual(reply("expires 300")?.seconds, 300)
        for r in replies {
            let line = ControlProtocol.encode(r)
            XCTAssertTrue(line.hasSuffix("\n"))
            XCTAssertEqual(reply(String(line.dropLast())), r)
        }
        XCTAssertNil(reply("expires"))
        XCTAssertNil(reply("expires "))
        XCTAssertNil(reply("expires 12x"))
        XCTAssertNil(reply("expires 99999999999999999999"))
        XCTAssertNil(reply("expires -1"))
        XCTAssertNil(reply("hello world"))
        XCTAssertNil(reply("code"))
        XCTAssertNil(reply("error " + String(repeating: "e", count: 300)))
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = bytes.withUnsafeBytes { ControlProtocol.request($0) }
            _ = bytes.withUnsafeBytes { ControlProtocol.reply($0) }
        }
    }

    /// The daemon's answers, decided without a socket (`ControlProtocol.answer`; the tests above see the same lines
    /// from real processes).
    func testTheDaemonsAnswers() {
        let open: UInt64 = 301_500
        XCTAssertEqual(ControlProtocol.answer(.success(.status), windowDeadline: nil, now: 1_000), .reply(ControlReply(.status, "idle")))
        XCTAssertEqual(ControlProtocol.answer(.success(.status), windowDeadline: open, now: 1_000), .reply(ControlReply(.status, "open 300")))
        XCTAssertEqual(ControlProtocol.answer(.success(.status), windowDeadline: open, now: 302_000), .reply(ControlReply(.status, "open 0")),
                       "a window past its deadline that the loop has not closed yet says 0, not a wrapped number")
        XCTAssertEqual(ControlProtocol.answer(.success(.invite), windowDeadline: nil, now: 1_000), .openWindow)
        XCTAssertEqual(ControlProtocol.answer(.success(.invite), windowDeadline: open, now: 1_000),
                       .reply(ControlReply(.error, "a pairing window is already open (its code is in the daemon's log)")))
        XCTAssertEqual(ControlProtocol.answer(.failure(.oversized), windowDeadline: nil, now: 0), .reply(ControlReply(.error, "request too long")))
        XCTAssertEqual(ControlProtocol.answer(.failure(.unknown), windowDeadline: open, now: 0),
                       .reply(ControlReply(.error, "unknown request (expected invite or status)")))
        XCTAssertEqual(ControlProtocol.encode(ControlProtocol.cannotOpen), "error this agent cannot open a pairing window\n")
    }

    /// Review finding 9: the state directory holds the identity key and the control socket, so it is trusted only if
    /// nobody else could have put anything there: another user's directory (with a planted identity whose seed the
    /// attacker knows) and a directory others can write are refused with the cause; a service user's directory under
    /// a private root-owned parent (systemd's DynamicUser StateDirectory) is fine for root; and `invite` believes a
    /// control socket only if its server is root, the directory's owner or ourselves.
    func testUntrustedStateDirectoriesAndControlSocketsAreRefused() throws {
        let base = stateDirectory()
        let fm = FileManager.default
        try fm.createDirectory(atPath: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        // Another user's directory with an identity in it, made in a directory everybody may write (like /tmp).
        let shared = base + "/shared"
        try fm.createDirectory(atPath: shared, withIntermediateDirectories: false)
        XCTAssertEqual(chmod(shared, 0o1777), 0)
        let theirs = shared + "/theirs"
        try fm.createDirectory(atPath: theirs, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let planted: [UInt8] = Array("SDPI".utf8) + [1, 0, 0, 0] + Array(0..<32) + [UInt8](repeating: 0xAA, count: 16)
        let digest = planted.withUnsafeBytes { SHA256.hash($0) }
        fm.createFile(atPath: theirs + "/identity", contents: Data(planted + (0..<8).map { digest[$0] }))
        XCTAssertEqual(chown(theirs, 65534, 65534), 0)
        XCTAssertEqual(chown(theirs + "/identity", 65534, 65534), 0)
        let world = base + "/world"
        try fm.createDirectory(atPath: world, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        XCTAssertEqual(chmod(world, 0o777), 0)
        for (dir, why) in [(theirs, "belongs to another user"), (world, "can be written by other users")] {
            for command in [["invite", "--listen", "/ip4/127.0.0.1/tcp/0"], ["join", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "--peer", "/ip4/127.0.0.1/tcp/9"]] {
                let p = try Spawned(agent, command + ["--no-mdns", "--no-dht", "--state-dir", dir])
                XCTAssertEqual(p.wait(seconds: 10), 3, dir + ": " + p.stderr)
                XCTAssertTrue(p.stderr.contains(why), p.stderr)
                XCTAssertFalse(p.stdout.contains("LISTEN "), "nothing runs with an untrusted identity")
            }
        }
        // A service user's directory under root's private parent: root may use it (as `sudo sd-pair invite` does).
        let service = base + "/service"
        try fm.createDirectory(atPath: service, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        XCTAssertEqual(chown(service, 65534, 65534), 0)
        let ok = try Spawned(agent, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", service])
        XCTAssertNotNil(ok.line(startingWith: "CODE: "), ok.stderr)
        ok.signal(SIGINT)
        XCTAssertEqual(ok.wait(), 130)
        // A control socket answered by someone who is neither root, nor the directory's owner, nor us: made by uid
        // 65534 in its own directory, which then passes to uid 65533 (so its server is not the owner).
        let socketDir = base + "/socket"
        try fm.createDirectory(atPath: socketDir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        XCTAssertEqual(chown(socketDir, 65534, 65534), 0)
        let fake = try Spawned(URL(fileURLWithPath: "/usr/bin/setpriv"), [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(1)\nprint('ready',flush=True)\n"
                + "s.settimeout(20)\nc,_=s.accept()\nc.sendall(b'code abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about\\nexpires 300\\npaired 00000000000000000000000000000000 Attacker\\n')\ntime.sleep(2)",
            socketDir + "/control",
        ])
        defer { fake.stop() }
        XCTAssertNotNil(fake.line(startingWith: "ready", within: 10), fake.stderr)
        XCTAssertEqual(chown(socketDir, 65533, 65533), 0)
        let fooled = try Spawned(agent, ["invite", "--state-dir", socketDir])
        XCTAssertEqual(fooled.wait(seconds: 10), 3, fooled.stdout + fooled.stderr)
        XCTAssertTrue(fooled.stderr.contains("served by another user (uid 65534)"), fooled.stderr)
        XCTAssertFalse(fooled.stdout.contains("CODE: ") || fooled.stdout.contains("PAIRED"), fooled.stdout)
    }
}
