import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `sd-pair-hostile` (Tests/Hostile) against a running `sd-pair serve`: junk, truncated and oversized openings, a
/// slow drip, 100 silent connections, then 1000 joiners that know the session id but not the code. Meanwhile and
/// afterwards real joiners pair; the daemon's memory stays put and nobody else gets into the registry.
final class HostilePeerTests: AgentTestCase {
    var tool: URL { Bundle.main.bundleURL.appendingPathComponent("sd-pair-hostile") }

    static func residentKiB(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// A real pairing through the daemon: `invite` asks it for a window, a real joiner uses the code.
    func pairThroughDaemon(_ state: String, _ address: String, name: String) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let invite = try Spawned(agent, ["invite", "--state-dir", state])
            guard let words = invite.line(startingWith: "CODE: ", within: 10) else {
                // The hostile tool holds the one window for a moment: ask again.
                XCTAssertTrue(invite.wait() == 1 && invite.stderr.contains("already open"), invite.stderr)
                usleep(100_000)
                continue
            }
            let joiner = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory(), "--name", name])
            XCTAssertEqual(joiner.wait(), 0, name + ": " + joiner.stderr)
            XCTAssertEqual(invite.wait(), 0, invite.stderr)
            return
        }
        XCTFail("no window for " + name + " within 30 s")
    }

    func testHostilePeersDoNotStopRealPairingsNorGrowMemory() throws {
        let state = stateDirectory()
        let serve = try Spawned(agent, [
            "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state, "--name", "Target NAS",
            "--window-at-start", "never",
        ])
        guard let address = serve.line(startingWith: "LISTEN "), serve.line(startingWith: "READY ") != nil else {
            return XCTFail("serve did not start: " + serve.stderr)
        }
        let pid = serve.process.processIdentifier
        try pairThroughDaemon(state, address, name: "Warm-up Laptop")  // first use sizes the heap
        let before = try XCTUnwrap(Self.residentKiB(pid))

        let attacks = try Spawned(tool, [address, "garbage", "truncate", "oversized", "drip", "parallel"])
        XCTAssertNotNil(attacks.line(startingWith: "hostile: oversized", within: 60), attacks.stdout)
        try pairThroughDaemon(state, address, name: "Laptop During Drip")  // while the drip and then 100 connections run
        XCTAssertEqual(attacks.wait(seconds: 120), 0, attacks.stdout + attacks.stderr)
        XCTAssertTrue(attacks.stdout.contains("parallel: 100 silent connections"), attacks.stdout)

        let wrong = try Spawned(tool, [address, "--control", state + "/control", "wrong-code"])
        XCTAssertEqual(wrong.wait(seconds: 300), 0, wrong.stdout + wrong.stderr)
        XCTAssertTrue(wrong.stdout.contains("1000 joiners"), wrong.stdout)
        try pairThroughDaemon(state, address, name: "Laptop After")

        let after = try XCTUnwrap(Self.residentKiB(pid))
        print("hostile: serve RSS \(before) KiB before the attacks, \(after) KiB after (\(after - before) KiB)")
        XCTAssertLessThanOrEqual(after - before, 256, "RSS grew from \(before) to \(after) KiB")
        XCTAssertEqual(try listed(state).count, 3, "only the three real joiners are registered")
        XCTAssertEqual(serve.stderr.components(separatedBy: "too many failed attempts").count - 1, 200, "200 windows burned")
        XCTAssertTrue(serve.process.isRunning)
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130)
    }
}
