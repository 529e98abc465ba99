import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Faults in the middle of real pairings with `sd-pair serve`: joiners killed mid-handshake, the disk full while the
/// daemon records a pairing. (avahi-daemon restarted mid-window: MDNSTests; DHT nodes killed: DHTTests.)
final class FaultInjectionTests: AgentTestCase {
    func startServe(_ state: String, prefix: [String] = []) throws -> (process: Spawned, address: String) {
        let command = prefix + [agent.path, "serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state,
                                "--name", "Fault NAS", "--window-at-start", "never"]
        let p = try Spawned(URL(fileURLWithPath: command[0]), Array(command.dropFirst()))
        guard let address = p.line(startingWith: "LISTEN "), p.line(startingWith: "READY ") != nil else {
            XCTFail("serve did not start: " + p.stderr)
            throw CocoaError(.fileReadUnknown)
        }
        return (p, address)
    }

    /// A window through the control socket; the invite process follows it.
    func window(_ state: String) throws -> (invite: Spawned, words: String) {
        let invite = try Spawned(agent, ["invite", "--state-dir", state])
        guard let words = invite.line(startingWith: "CODE: ") else {
            XCTFail("no window: " + invite.stderr)
            throw CocoaError(.fileReadUnknown)
        }
        return (invite, words)
    }

    func openFDs(_ pid: Int32) -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count }

    func testJoinersKilledMidHandshakeLeaveTheDaemonWhole() throws {
        let state = stateDirectory()
        let (serve, address) = try startServe(state)
        let pid = serve.process.processIdentifier
        let baseline = openFDs(pid)
        // How long a whole join takes here: the kills below fall inside it on a fast machine and a slow one alike (a
        // fixed span once let two thirds of the joiners finish first on a fast machine, and the test proved little).
        var shortest = UInt32.max
        for _ in 0..<5 {
            let (invite, words) = try window(state)
            let started = Date()
            let joiner = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory()])
            // Watched closely: `wait` polls every 20 ms, longer than a whole join on loopback.
            while joiner.process.isRunning && Date().timeIntervalSince(started) < 30 { usleep(200) }
            shortest = min(shortest, UInt32(Date().timeIntervalSince(started) * 1_000_000))
            XCTAssertEqual(joiner.wait(), 0, joiner.stderr)
            XCTAssertEqual(invite.wait(), 0, invite.stderr)
        }
        let completed = try listed(state).count
        XCTAssertEqual(completed, 5)
        var rng = SystemRandomNumberGenerator()
        var killed = 0
        // 30 joiners, each SIGKILLed at a random moment of its run (process start, connect, Noise, the pairing
        // messages, the registry write), each against a fresh window.
        for _ in 0..<30 {
            let (invite, words) = try window(state)
            let joiner = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory()])
            usleep(UInt32.random(in: 0...(shortest / 4 * 3), using: &rng))
            if joiner.process.isRunning {
                kill(joiner.process.processIdentifier, SIGKILL)
                killed += 1
            }
            _ = joiner.wait()
            invite.signal(SIGINT)  // closes the window if the pairing did not finish
            _ = invite.wait()
        }
        print("killed \(killed) of 30 joiners mid-run (a whole join took \(shortest / 1000) ms)")
        XCTAssertGreaterThan(killed, 10, "too few joiners died mid-run for this to test anything (a whole join took \(shortest) µs)")
        // The daemon goes on, has closed every dead connection, and its registry parses.
        let deadline = Date().addingTimeInterval(15)
        while openFDs(pid) > baseline && Date() < deadline { usleep(100_000) }
        XCTAssertEqual(openFDs(pid), baseline, "every connection of a killed joiner was closed")
        let recorded = try listed(state).count
        XCTAssertLessThanOrEqual(recorded, completed + 30, "the registry parses and holds at most the joiners that got that far")
        let (invite, words) = try window(state)
        let real = try Spawned(host, ["join", words, "--peer", address, "--state-dir", stateDirectory(), "--name", "Survivor"])
        XCTAssertEqual(real.wait(), 0, real.stderr)
        XCTAssertEqual(invite.wait(), 0, invite.stderr)
        XCTAssertEqual(try listed(state).count, recorded + 1)
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130)
    }

    func testDiskFullWhileTheDaemonRecordsAPairingLosesNothingAndRecovers() throws {
        let state = stateDirectory()
        // A soft RLIMIT_FSIZE of 512 bytes: the registry with one device (312 bytes) fits, with two (596) does not.
        let (serve, address) = try startServe(state, prefix: ["/bin/sh", "-c", "ulimit -S -f 1; exec \"$@\"", "sh"])
        let pid = serve.process.processIdentifier

        let (first, firstWords) = try window(state)
        let a = try Spawned(host, ["join", firstWords, "--peer", address, "--state-dir", stateDirectory(), "--name", "First"])
        XCTAssertEqual(a.wait(), 0, a.stderr)
        XCTAssertEqual(first.wait(), 0, first.stderr)
        let firstID = try XCTUnwrap(listed(state).first)

        let (second, secondWords) = try window(state)
        let bState = stateDirectory()
        let b = try Spawned(host, ["join", secondWords, "--peer", address, "--state-dir", bState, "--name", "Second"])
        XCTAssertEqual(b.wait(), 1, "the daemon could not record it, so the joiner must not keep it: " + b.stderr)
        XCTAssertEqual(second.wait(), 1, second.stderr)
        XCTAssertTrue(serve.stderr.contains("could not be recorded"), serve.stderr)
        XCTAssertEqual(try listed(state), [firstID], "nothing acknowledged was lost, nothing half-written appeared")
        XCTAssertEqual(try listed(bState), [], "the joiner recorded nothing either")
        XCTAssertTrue(serve.process.isRunning)

        // Space again (the limit lifted on the running daemon): the next pairing is recorded.
        let lift = try Spawned(URL(fileURLWithPath: "/usr/bin/prlimit"), ["--pid", String(pid), "--fsize=unlimited:"])
        XCTAssertEqual(lift.wait(), 0, lift.stderr)
        let (third, thirdWords) = try window(state)
        let c = try Spawned(host, ["join", thirdWords, "--peer", address, "--state-dir", bState, "--name", "Second"])
        XCTAssertEqual(c.wait(), 0, c.stderr)
        XCTAssertEqual(third.wait(), 0, third.stderr)
        XCTAssertEqual(try listed(state).count, 2)
        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(), 130)
    }
}
