import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The DHT path against five real py-libp2p Kademlia nodes (server mode) on loopback.
final class DHTTests: AgentTestCase {
    var nodes: [Spawned] = []
    var addresses: [String] = []
    var recordFiles: [String] = []

    override func tearDown() {
        for n in nodes { n.stop() }
        for f in recordFiles { try? FileManager.default.removeItem(atPath: f) }
        super.tearDown()
    }

    static var fixture: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/py_dht.py").path
    }

    /// Node 0 first, then nodes 1–4 bootstrapping from node 0 and the node before them.
    func startDHT(count: Int = 5) throws {
        for i in 0..<count {
            let records = FileManager.default.temporaryDirectory.appendingPathComponent("sdp-records-" + UUID().uuidString).path
            recordFiles.append(records)
            var args = [Self.fixture, "node", "--timeout", "120", "--records", records]
            if i > 0 { args += ["--bootstrap", addresses[0]] }
            if i > 1 { args += ["--bootstrap", addresses[i - 1]] }
            let p = try Spawned(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + args)
            nodes.append(p)
            guard let address = p.line(startingWith: "LISTEN ", within: 30) else {
                XCTFail("DHT node \(i) did not start: " + p.stderr)
                throw CocoaError(.featureUnsupported)
            }
            addresses.append(address)
            XCTAssertNotNil(p.line(startingWith: "READY", within: 30), "node \(i): " + p.stderr)
        }
    }

    func invite(bootstrap: String, name: String) throws -> (Spawned, String) {
        let p = try Spawned(agent, ["invite", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--dht-bootstrap", bootstrap,
                                    "--state-dir", stateDirectory(), "--name", name, "--expiry", "60"])
        guard let words = p.line(startingWith: "CODE: ") else {
            XCTFail("invite: " + p.stderr)
            throw CocoaError(.featureUnsupported)
        }
        return (p, words)
    }

    func testInviteAndJoinMeetThroughTheDHTAndTheRecordIsSealed() throws {
        try startDHT()
        let (inv, words) = try invite(bootstrap: addresses[0], name: "Sealed NAS")
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        let started = Date()
        let j = try Spawned(host, ["join", words, "--no-mdns", "--dht-bootstrap", addresses[4], "--state-dir", stateDirectory(), "--name", "Laptop", "--expiry", "60"])
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 30), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        print("DHT discover→paired: " + String(format: "%.2f", Date().timeIntervalSince(started)) + " s")
        XCTAssertTrue(j.stderr.contains("found by DHT"), j.stderr)
        XCTAssertTrue(j.stdout.contains(" Sealed NAS"), j.stdout)

        // What the DHT nodes hold: our key, a value that shows neither the name nor the address.
        usleep(400_000)
        var stored = 0
        let nameHex = Data("Sealed NAS".utf8).map { String(format: "%02x", $0) }.joined()
        let loopbackHex = "7f000001"
        for file in recordFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 2 else { continue }
                let key = String(decoding: stride(from: 0, to: parts[0].count, by: 2).map {
                    UInt8(parts[0].dropFirst($0).prefix(2), radix: 16)!
                }, as: UTF8.self)
                XCTAssertTrue(key.hasPrefix("/sd-pair/"), key)
                XCTAssertFalse(parts[1].contains(nameHex), "the device name is in clear in the DHT")
                XCTAssertFalse(parts[1].contains(loopbackHex), "the address is in clear in the DHT")
                stored += 1
            }
        }
        XCTAssertGreaterThanOrEqual(stored, 1, "no DHT node stored the advertisement")
    }

    func testStillPairsWithOneDHTNodeKilledAndNoAvahi() throws {
        try startDHT()
        let (inv, words) = try invite(bootstrap: addresses[0], name: "NAS")
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        nodes[2].stop()  // mid-session: between the PUT and the joiner's GET
        // Both paths on, but no avahi-daemon (no bus at all): one notice, and the DHT path alone pairs.
        let j = try Spawned(host, ["join", words, "--dht-bootstrap", addresses[4], "--dht-bootstrap", addresses[2],
                                   "--state-dir", stateDirectory(), "--expiry", "60"],
                            environment: ["DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/sd-pair-test-bus"])
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 40), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertEqual(j.stderr.components(separatedBy: "notice: mDNS unavailable").count - 1, 1, j.stderr)
        XCTAssertTrue(j.stderr.contains("found by DHT"), j.stderr)
    }

    /// A joiner with the wrong code finds no record that opens, keeps looking, and never dials the NAS.
    func testWrongCodeNeverOpensTheRecord() throws {
        try startDHT(count: 2)
        let (inv, _) = try invite(bootstrap: addresses[0], name: "NAS")
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        let other = try Spawned(host, ["code"])
        guard let wrong = other.line(startingWith: "") else { return XCTFail("code") }
        let j = try Spawned(host, ["join", wrong, "--no-mdns", "--dht-bootstrap", addresses[1], "--state-dir", stateDirectory(), "--expiry", "60"])
        defer { j.stop() }
        usleep(3_000_000)
        XCTAssertFalse(j.stderr.contains("trying "), j.stderr)
        XCTAssertTrue(j.process.isRunning)
        j.signal(SIGINT)
        XCTAssertEqual(j.wait(seconds: 10), 130)
    }

    func testWithoutBootstrapPeersOneNotice() throws {
        let p = try Spawned(agent, ["invite", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--state-dir", stateDirectory()])
        defer { p.stop() }
        XCTAssertNotNil(p.line(startingWith: "CODE: "), p.stderr)
        XCTAssertTrue(p.waitForLog("notice: no DHT bootstrap peers"), p.stderr)
        XCTAssertEqual(p.stderr.components(separatedBy: "notice:").count - 1, 1, p.stderr)
    }
}
