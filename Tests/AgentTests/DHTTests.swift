import Foundation
import Transport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The DHT path against five real py-libp2p Kademlia nodes (server mode) on loopback. By default the nodes follow
/// the public IPFS DHT's rules (strict validation: /pk and /ipns only, IPNS records checked as the spec says,
/// binary go-style /ipns/ keys accepted: Tests/Fixtures/py_dht.py); `permissive` makes a private DHT.
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
    func startDHT(count: Int = 5, permissive: Bool = false) throws {
        for i in 0..<count {
            let records = FileManager.default.temporaryDirectory.appendingPathComponent("sdp-records-" + UUID().uuidString).path
            recordFiles.append(records)
            var args = [Self.fixture, "node", "--timeout", "120", "--records", records] + (permissive ? ["--permissive"] : [])
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

    func invite(bootstrap: String, name: String, extra: [String] = [], via: URL? = nil, wrapper: [String] = [], environment: [String: String]? = nil) throws -> (Spawned, String) {
        let p = try Spawned(via ?? agent, wrapper + ["invite", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--dht-bootstrap", bootstrap,
                                    "--state-dir", stateDirectory(), "--name", name, "--expiry", "60"] + extra, environment: environment)
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

        // What the DHT nodes hold: an IPNS record under a name that is not the board's peer id, showing neither the
        // device name, nor the address, nor the board's peer id.
        usleep(400_000)
        let records = storedRecords()
        XCTAssertGreaterThanOrEqual(records.count, 1, "no DHT node stored the advertisement")
        let nameHex = Data("Sealed NAS".utf8).map { String(format: "%02x", $0) }.joined()
        let loopbackHex = "7f000001"
        let boardID = try XCTUnwrap(inv.stdout.split(separator: "\n").first { $0.hasPrefix("LISTEN ") }?.components(separatedBy: "/p2p/").last)
        let boardKey = try PeerID(text: String(boardID)).publicKey.bytes.withUnsafeBytes { Array($0) }
        let boardKeyHex = boardKey.map { String(format: "%02x", $0) }.joined()
        for (key, value) in records {
            XCTAssertTrue(key.hasPrefix(Data("/ipns/".utf8).map { String(format: "%02x", $0) }.joined() + "002408011220"), key)
            for hidden in [nameHex, loopbackHex, boardKeyHex] {
                XCTAssertFalse(value.contains(hidden), "in clear in the DHT: " + hidden)
                XCTAssertFalse(key.contains(hidden), "in the record key: " + hidden)
            }
        }
        // A node refuses our record with one byte of its sealed payload changed (the V2 signature covers it).
        let (key, value) = records[0]
        var tampered = Array(value)
        let mid = tampered.index(tampered.startIndex, offsetBy: tampered.count - 200)
        tampered[mid] = tampered[mid] == "0" ? "1" : "0"
        XCTAssertEqual(try put(to: addresses[0], ["--key", key, "--value", String(tampered)]), "REFUSED")
    }

    /// (key hex, value hex) of every record the nodes hold.
    func storedRecords() -> [(String, String)] {
        var out: [(String, String)] = []
        for file in recordFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { out.append((String(parts[0]), String(parts[1]))) }
            }
        }
        return out
    }

    /// One raw PUT_VALUE to a node (py_dht.py put): "STORED" or "REFUSED".
    func put(to node: String, _ args: [String]) throws -> String {
        let p = try Spawned(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.fixture, "put", "--to", node] + args)
        XCTAssertEqual(p.wait(seconds: 40), 0, p.stderr)
        return p.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The rules the nodes enforce are the public DHT's: a well-formed IPNS record is stored; an expired one, one
    /// signed by another key than its name's, and any key outside /pk and /ipns are refused.
    func testNodesEnforceThePublicDHTsRules() throws {
        try startDHT(count: 1)
        XCTAssertEqual(try put(to: addresses[0], ["--forge", "valid"]), "STORED")
        XCTAssertEqual(try put(to: addresses[0], ["--forge", "expired"]), "REFUSED")
        XCTAssertEqual(try put(to: addresses[0], ["--forge", "other-key"]), "REFUSED")
        let sdPairKey = Data("/sd-pair/00112233445566778899aabbccddeeff".utf8).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(try put(to: addresses[0], ["--key", sdPairKey, "--value", "00"]), "REFUSED")
    }

    /// `--dht-records sd-pair`: refused by the public DHT's rules (the board says so), paired on a private DHT.
    func testSdPairRecordsNeedAPrivateDHT() throws {
        try startDHT(count: 2)
        let (strict, _) = try invite(bootstrap: addresses[0], name: "NAS", extra: ["--dht-records", "sd-pair"])
        XCTAssertTrue(strict.waitForLog("refused by", within: 20), strict.stderr)
        strict.stop()
        for n in nodes { n.stop() }
        nodes = []
        addresses = []

        try startDHT(count: 2, permissive: true)
        let (inv, words) = try invite(bootstrap: addresses[0], name: "Private NAS", extra: ["--dht-records", "sd-pair"])
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        XCTAssertTrue(inv.stderr.contains("/sd-pair/"), inv.stderr)
        let j = try Spawned(host, ["join", words, "--no-mdns", "--dht-records", "sd-pair", "--dht-bootstrap", addresses[1],
                                   "--state-dir", stateDirectory(), "--expiry", "60"])
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 30), 0, "join: " + j.stderr)
        XCTAssertTrue(j.stderr.contains("found by DHT"), j.stderr)
        usleep(400_000)
        XCTAssertTrue(storedRecords().contains { $0.0.hasPrefix(Data("/sd-pair/".utf8).map { String(format: "%02x", $0) }.joined()) })
    }

    /// A board without a real-time clock, 47 h behind, and a joiner 47 h ahead (libfaketime on the host build;
    /// monotonic time is left alone): the nodes, whose clocks are right, accept the record, and the pair meets.
    func testABoardClock47HoursBehindStillPairs() throws {
        try startDHT(count: 3)
        let faketime = URL(fileURLWithPath: "/usr/bin/faketime")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: faketime.path), "faketime is not installed (apt-get install faketime)")
        let env = ["DONT_FAKE_MONOTONIC": "1"]
        let (inv, words) = try invite(bootstrap: addresses[0], name: "No-RTC NAS", via: faketime, wrapper: ["-f", "-47h", host.path], environment: env)
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        XCTAssertFalse(inv.stderr.contains("refused by"), inv.stderr)
        let j = try Spawned(faketime, ["-f", "+47h", host.path, "join", words, "--no-mdns", "--dht-bootstrap", addresses[2],
                                       "--state-dir", stateDirectory(), "--expiry", "60"], environment: env)
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 30), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertTrue(j.stderr.contains("found by DHT"), j.stderr)
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
