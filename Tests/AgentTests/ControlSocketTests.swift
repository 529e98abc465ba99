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
}
