import Foundation
import XCTest

/// `sd-pair doctor` against real parts: a host of the avahi lab (its own D-Bus bus and avahi-daemon, nftables rules
/// in its own namespace), libfaketime for the clock, a py-libp2p DHT node on loopback, and a port nobody serves.
final class DoctorTests: AgentTestCase {
    /// Runs doctor (the board's Embedded build) in lab host A and returns its exit status and output.
    func doctor(_ lab: AvahiLab, _ extra: [String] = []) throws -> (Int32?, String) {
        let d = try lab.run("A", agent, ["doctor", "--state-dir", stateDirectory(), "--listen", "/ip4/0.0.0.0/tcp/4801", "--no-dht"] + extra)
        defer { d.stop() }
        let status = d.wait(seconds: 15)  // its own bound is about 10 s
        return (status, d.stdout + d.stderr)
    }

    func nft(_ lab: AvahiLab, _ rules: String) throws {
        let p = try lab.run("A", URL(fileURLWithPath: "/usr/sbin/nft"), ["-f", "-"], input: rules)
        XCTAssertEqual(p.wait(seconds: 10), 0, "nft: " + p.stderr)
    }

    func testAHealthyHostPassesEveryCheck() throws {
        let lab = try AvahiLab()
        defer { lab.down() }
        let (status, out) = try doctor(lab)
        XCTAssertEqual(status, 0, out)
        XCTAssertFalse(out.contains("FAIL"), out)
        for line in ["PASS  clock: 20", "PASS  state directory: ", "PASS  serve: not running", "PASS  avahi: avahi-daemon is running as ",
                     "PASS  interface vethA: 10.77.0.1", "PASS  firewall mDNS: mDNS (UDP 5353) is not dropped",
                     "PASS  firewall port: the listening port (TCP 4801) is not dropped", "PASS  listen port: TCP 4801 answers on 10.77.0.1"] {
            XCTAssertTrue(out.contains(line), line + " in:\n" + out)
        }
        // --json: the same checks for a web UI, one object.
        let (_, json) = try doctor(lab, ["--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertEqual(object?["result"] as? String, "pass", json)
        XCTAssertGreaterThanOrEqual((object?["checks"] as? [[String: Any]])?.count ?? 0, 7, json)
    }

    func testAvahiDownFailsWithTheFix() throws {
        let lab = try AvahiLab()
        defer { lab.down() }
        lab.avahi("stop", "A")
        let (status, out) = try doctor(lab)
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("FAIL  avahi: avahi-daemon is not running"), out)
        XCTAssertTrue(out.contains("fix: systemctl enable --now avahi-daemon"), out)
    }

    /// With `rules` loaded in host A, doctor fails and says each of `expected`.
    func failsWithFirewall(_ rules: String, saying expected: [String]) throws {
        let lab = try AvahiLab()
        defer { lab.down() }
        try nft(lab, rules)
        let (status, out) = try doctor(lab)
        XCTAssertEqual(status, 1, out)
        for line in expected { XCTAssertTrue(out.contains(line), line + " in:\n" + out) }
    }

    /// Rules that drop mDNS and the listening port: both named, with the rule, and the port does not answer.
    func testFirewallRulesThatDropMDNSAndThePortAreNamed() throws {
        try failsWithFirewall("""
            table inet doctortest {
              chain input { type filter hook input priority filter; policy accept; udp dport 5353 drop; tcp dport 4801 drop; }
            }
            """, saying: [
                "FAIL  firewall mDNS: a rule drops mDNS (UDP 5353): udp dport 5353 drop",
                "FAIL  firewall port: a rule drops the listening port (TCP 4801): tcp dport 4801 drop",
                "FAIL  listen port: TCP 4801 does not answer on 10.77.0.1: no answer in 0.5 s",
                "fix: allow it: nft add rule inet filter input udp dport 5353 accept",
            ])
    }

    /// A default-drop input chain that accepts only SSH: mDNS and the port are dropped without a rule naming them.
    func testADropPolicyWithoutAnAcceptIsNamed() throws {
        try failsWithFirewall("""
            table inet doctortest {
              chain input { type filter hook input priority filter; policy drop; iif lo accept; tcp dport 22 accept; }
            }
            """, saying: [
                "FAIL  firewall mDNS: the input chain drops by default and no rule accepts mDNS (UDP 5353)",
                "FAIL  firewall port: the input chain drops by default and no rule accepts the listening port (TCP 4801)",
            ])
    }

    /// A board without a real-time clock, ten years back (libfaketime on the host build).
    func testAClockTenYearsBackFails() throws {
        let faketime = URL(fileURLWithPath: "/usr/bin/faketime")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: faketime.path), "faketime is not installed (apt-get install faketime)")
        let d = try Spawned(faketime, ["-f", "-3653d", host.path, "doctor", "--no-mdns", "--no-dht", "--state-dir", stateDirectory()],
                            environment: ["DONT_FAKE_MONOTONIC": "1"])
        defer { d.stop() }
        XCTAssertEqual(d.wait(seconds: 15), 1, d.stdout + d.stderr)
        XCTAssertTrue(d.stdout.contains("FAIL  clock: the clock says 2016-"), d.stdout)
        XCTAssertTrue(d.stdout.contains("fix: set the time or wait for NTP"), d.stdout)
    }

    /// A bootstrap peer that answers (a py-libp2p DHT node) and one nobody serves.
    func testBootstrapPeersAreReachedOrNamed() throws {
        let node = try Spawned(URL(fileURLWithPath: "/usr/bin/env"), ["python3", DHTTests.fixture, "node", "--timeout", "60"])
        defer { node.stop() }
        guard let live = node.line(startingWith: "LISTEN ", within: 30) else { return XCTFail("DHT node: " + node.stderr) }
        let dead = "/ip4/127.0.0.1/tcp/1/p2p/" + live.components(separatedBy: "/p2p/")[1]
        let d = try Spawned(agent, ["doctor", "--no-mdns", "--state-dir", stateDirectory(), "--dht-bootstrap", live, "--dht-bootstrap", dead])
        defer { d.stop() }
        XCTAssertEqual(d.wait(seconds: 15), 1, d.stdout + d.stderr)
        XCTAssertTrue(d.stdout.contains("PASS  DHT peer: " + live + " answered in "), d.stdout)
        XCTAssertTrue(d.stdout.contains("FAIL  DHT peer: " + dead + ": "), d.stdout)
        XCTAssertTrue(d.stdout.contains("connection refused") || d.stdout.contains("ECONNREFUSED"), d.stdout)
    }
}
