import Foundation
import XCTest

/// A small internet in network namespaces (Tests/Fixtures/nat-lab.sh): the board behind a home router with nftables
/// masquerade and a real miniupnpd (UPnP IGD + NAT-PMP), the laptop behind a second router without port mapping,
/// two DHT nodes that follow the public DHT's rules "on the internet" between them, mDNS off.
final class NATLab {
    static var scriptPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/nat-lab.sh").path
    }

    let directory: String
    private var isUp = false
    var nodes: [Spawned] = []
    var bootstrap: [String] = []

    init(_ options: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sdp-nat-" + String(UUID().uuidString.prefix(8))).path
        let (status, output) = runScript(Self.scriptPath, ["up", directory] + options)
        guard status == 0 else {
            _ = runScript(Self.scriptPath, ["down", directory])
            XCTFail("the NAT lab did not come up (needs root, ip netns, nft, miniupnpd): " + output)
            throw CocoaError(.featureUnsupported)
        }
        isUp = true
    }

    func run(_ host: String, _ binary: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> Spawned {
        try Spawned(URL(fileURLWithPath: "/bin/bash"), [Self.scriptPath, "run", directory, host, binary.path] + arguments, environment: environment)
    }

    /// Two DHT nodes on the internet side (51.20.0.1), the second bootstrapped from the first. `relay`: the first
    /// also serves circuit relay v2 (py-libp2p's relay, with the public nodes' limits).
    /// `relayDelay`: the relay is far away, each chunk it passes on waits that many milliseconds. `relayCut`: the
    /// relay resets the first relayed connection once it has carried that many bytes.
    /// `bothRelays`: the second node serves circuit relay too (without the first one's delay or cut).
    func startDHT(relay: Bool = false, relayDelay: Int = 0, relayCut: Int = 0, bothRelays: Bool = false) throws {
        for i in 0..<2 {
            let p = try run("inet", URL(fileURLWithPath: "/usr/bin/env"), ["python3", DHTTests.fixture, "node", "--ip", "51.20.0.1", "--timeout", "150"]
                + (i > 0 ? ["--bootstrap", bootstrap[0]] : []) + (relay && i == 0 ? ["--relay", "--relay-delay", String(relayDelay), "--relay-cut", String(relayCut)] : bothRelays ? ["--relay"] : []))
            nodes.append(p)
            guard let address = p.line(startingWith: "LISTEN ", within: 30) else {
                XCTFail("DHT node \(i): " + p.stderr)
                throw CocoaError(.featureUnsupported)
            }
            bootstrap.append(address)
            XCTAssertNotNil(p.line(startingWith: "READY", within: 30), p.stderr)
        }
    }

    /// The router's port mappings (its DNAT rules), e.g. "dport 4001 dnat ip to 192.168.10.2:4001".
    var mappings: [String] {
        runScript(Self.scriptPath, ["mappings", directory]).1.split(separator: "\n").map(String.init)
    }

    /// Forwards TCP `port` on the board's router to the board by hand, as an owner would in the router's web page.
    func forward(_ port: Int) {
        let (status, output) = runScript(Self.scriptPath, ["forward", directory, String(port)])
        XCTAssertEqual(status, 0, "nat-lab forward: " + output)
    }

    func down() {
        guard isUp else { return }
        isUp = false
        for n in nodes { n.stop() }
        let (status, output) = runScript(Self.scriptPath, ["down", directory])
        XCTAssertEqual(status, 0, "nat-lab down: " + output)
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { down() }
}

final class NATLabTests: AgentTestCase {
    /// `invite` on the board (the Embedded build), listening on all its addresses, port 4001.
    func invite(_ lab: NATLab, expiry: String = "60", _ extra: [String] = []) throws -> (Spawned, String) {
        let inv = try lab.run("board", agent, ["invite", "--no-mdns", "--listen", "/ip4/0.0.0.0/tcp/4001", "--dht-bootstrap", lab.bootstrap[0],
                                               "--state-dir", stateDirectory(), "--name", "Home NAS", "--expiry", expiry] + extra)
        guard let words = inv.line(startingWith: "CODE: ") else {
            XCTFail("invite: " + inv.stderr)
            throw CocoaError(.featureUnsupported)
        }
        return (inv, words)
    }

    func join(_ lab: NATLab, _ words: String, _ extra: [String] = [], bootstrap: Int = 1) throws -> Spawned {
        try lab.run("laptop", host, ["join", words, "--no-mdns", "--dht-bootstrap", lab.bootstrap[bootstrap], "--state-dir", stateDirectory(), "--name", "Laptop", "--expiry", "60"] + extra)
    }

    /// The laptop joins and pairs by dialling the router's public address; the board's LAN address is never tried
    /// from outside. Returns the finished join.
    func pairThroughThePublicAddress(_ lab: NATLab, _ inv: Spawned, _ words: String) throws -> Spawned {
        let j = try join(lab, words)
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 40), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertTrue(j.stdout.contains("PAIRED ") && j.stdout.contains(" Home NAS"), j.stdout)
        XCTAssertTrue(j.stderr.contains("trying /ip4/51.20.0.2/tcp/4001/p2p/"), j.stderr)
        XCTAssertFalse(j.stderr.contains("trying /ip4/192.168.10.2"), j.stderr)
        return j
    }

    /// Pairs across both NATs through the mapping `via` names; the mapping exists while the window is open and is
    /// gone after it closes.
    func pairThroughTheRouter(_ options: [String], via: String) throws {
        let lab = try NATLab(options)
        defer { lab.down() }
        try lab.startDHT()
        XCTAssertEqual(lab.mappings, [], "a mapping before any window")
        let (inv, words) = try invite(lab)
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("reachable from outside at /ip4/51.20.0.2/tcp/4001 (" + via + " on the router 192.168.10.1, until the window closes)", within: 15), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        XCTAssertEqual(lab.mappings, ["dport 4001 dnat ip to 192.168.10.2:4001"])
        let j = try pairThroughThePublicAddress(lab, inv, words)
        XCTAssertTrue(j.stderr.contains("1 private to another network"), j.stderr)
        // Removed when the window closed (UPnP's removal runs in a child that may outlive the board's process).
        var gone = false
        for _ in 0..<100 where !gone {
            gone = lab.mappings.isEmpty
            if !gone { usleep(100_000) }
        }
        XCTAssertTrue(gone, "the mapping outlived the window: \(lab.mappings)")
    }

    func testPairsAcrossTwoNATsWithBothMappingProtocols() throws {
        try pairThroughTheRouter([], via: "NAT-PMP")
    }

    func testPairsWithUPnPOnly() throws {
        try pairThroughTheRouter(["--mapping", "upnp"], via: "UPnP")
    }

    func testPairsWithNATPMPOnly() throws {
        try pairThroughTheRouter(["--mapping", "natpmp"], via: "NAT-PMP")
    }

    /// Without a mapping protocol the board says, once, that it cannot be reached from outside and why, and which
    /// public address the DHT peers see (identify); it advertises that address with its port in case the router
    /// forwards it, and the circuit address of the relay among the DHT peers where it holds a reservation. Here
    /// nothing forwards the port and the relay is gone before the joiner comes: the joiner finds the record, dials
    /// that address and the relay and none of the private ones, and its failure names both causes.
    func testWithoutMappingAndWithTheRelayGoneBothSidesSayWhy() throws {
        let lab = try NATLab(["--mapping", "none"])
        defer { lab.down() }
        try lab.startDHT(relay: true)
        let (inv, words) = try invite(lab)
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("not reachable from outside: neither NAT-PMP nor UPnP answered on the router 192.168.10.1; turn one of them on, or forward TCP port 4001 to 192.168.10.2; peers on the internet see this network at 51.20.0.2, advertised as /ip4/51.20.0.2/tcp/4001 for a router that forwards the port", within: 20), inv.stderr)
        XCTAssertEqual(inv.stderr.components(separatedBy: "reachable from outside").count - 1, 1, inv.stderr)
        let relay = "/ip4/51.20.0.1/tcp/" + lab.bootstrap[0].components(separatedBy: "/tcp/")[1] + "/p2p-circuit"
        XCTAssertTrue(inv.waitForLog("relay: reservation on " + relay + "; devices elsewhere can reach this board through it", within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        lab.nodes[0].stop()
        XCTAssertTrue(inv.waitForLog("relay: " + relay.replacingOccurrences(of: "/p2p-circuit", with: "").components(separatedBy: "/p2p/")[0] + ": lost the reservation: ", within: 20), inv.stderr)
        let j = try join(lab, words)
        defer { j.stop() }
        XCTAssertTrue(j.waitForLog("trying /ip4/51.20.0.2/tcp/4001/p2p/", within: 30), j.stderr)
        XCTAssertTrue(j.waitForLog("trying " + relay + "/p2p/", within: 30), j.stderr)
        XCTAssertEqual(j.wait(seconds: 75), 1, j.stderr)
        XCTAssertTrue(j.stderr.contains("pairing code expired before pairing completed: the device was found through the DHT but did not answer at its public address, and its relay " + lab.bootstrap[0] + " failed: "), j.stderr)
        XCTAssertFalse(j.stderr.contains("trying /ip4/192.168.10.2"), j.stderr)
        // The summary (issue 17, item 2): each path, both addresses with why they failed, and what to do.
        XCTAssertTrue(j.stderr.contains("summary: mDNS: off; DHT: found; 2 address(es) tried (/ip4/51.20.0.2/tcp/4001: "), j.stderr)
        XCTAssertTrue(j.stderr.contains("nothing reached the device: run `sd-pair doctor` here and on the device"), j.stderr)
    }

    /// No port mapping on either side: the board reserves a slot on the relay among its DHT peers and advertises it;
    /// the laptop, behind a NAT of its own, dials the relay and pairs through it (Noise end to end inside the relayed
    /// stream). Both say that the relay carried the pairing: the board's log line names the circuit, the joiner's
    /// too, and its `completed` event says "path":"relay".
    @discardableResult
    func pairThroughTheRelay(_ options: [String], relayDelay: Int = 0, relayCut: Int = 0) throws -> (board: Spawned, laptop: Spawned) {
        let lab = try NATLab(options)
        defer { lab.down() }
        try lab.startDHT(relay: true, relayDelay: relayDelay, relayCut: relayCut)
        let (inv, words) = try invite(lab)
        defer { inv.stop() }
        let relay = "/ip4/51.20.0.1/tcp/" + lab.bootstrap[0].components(separatedBy: "/tcp/")[1] + "/p2p-circuit"
        XCTAssertTrue(inv.waitForLog("relay: reservation on " + relay, within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        let j = try join(lab, words, ["--events", "json"])
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 40), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertTrue(j.stdout.contains("PAIRED ") && j.stdout.contains(" Home NAS"), j.stdout)
        XCTAssertTrue(j.stdout.contains("\"event\":\"completed\"") && j.stdout.contains("\"path\":\"relay\""), j.stdout)
        XCTAssertTrue(j.stderr.contains("paired through the relay " + relay + "/p2p/"), j.stderr)
        XCTAssertTrue(inv.stderr.contains(relay + ": paired with 'Laptop'"), inv.stderr)
        XCTAssertFalse(j.stderr.contains("trying /ip4/192.168.10.2"), j.stderr)
        return (inv, j)
    }

    func testPairsThroughARelayWhenNoPortCanBeMapped() throws {
        try pairThroughTheRelay(["--mapping", "none"])
    }

    /// Both routers keep a socket's port whatever it talks to (endpoint-independent mapping, as Linux masquerade
    /// does) and drop connections nobody inside asked for, as most home routers do. The relay is far away (each chunk
    /// it passes on waits 250 ms): while the pairing runs over it, the board and the laptop exchange their public
    /// addresses through it (DCUtR), dial each other at the same moment, and get a direct connection, each checking
    /// that the other end is the peer of the relayed connection. The pairing is not moved: its path stays the relay.
    func testBothSidesPunchADirectConnectionWhileTheRelayCarriesThePairing() throws {
        let (inv, j) = try pairThroughTheRelay(["--mapping", "none", "--stealth"], relayDelay: 250)
        XCTAssertTrue(inv.stderr.contains("hole punch: dialling /ip4/51.20.0.3/tcp/"), inv.stderr)
        XCTAssertTrue(inv.stderr.contains("hole punch: direct connection to /ip4/51.20.0.3/tcp/"), inv.stderr)
        XCTAssertTrue(j.stderr.contains("hole punch: direct connection to /ip4/51.20.0.2/tcp/"), j.stderr)
    }

    /// The relay drops the first relayed connection mid-pairing: it resets the circuit once 1 300 bytes have crossed
    /// it, which is after the laptop's request and before the board's challenge (the lab's messages have fixed
    /// sizes: 1 100 bytes cut the handshake, 1 500 the confirmation). The board had not proved the code on it, so
    /// the laptop tries the relay again with a new circuit, and they pair within the window.
    func testARelayThatDropsTheConnectionMidPairingIsTriedAgain() throws {
        let (_, j) = try pairThroughTheRelay(["--mapping", "none"], relayCut: 1300)
        let events = j.stdout.split(separator: "\n").compactMap { $0.components(separatedBy: "\"event\":\"").dropFirst().first?.components(separatedBy: "\"").first }
        XCTAssertEqual(Array(events.suffix(8)), ["connecting", "request-sent", "candidate-failed", "discovering", "connecting", "request-sent", "challenge-received", "completed"], j.stdout)
        XCTAssertTrue(j.stderr.contains("p2p-circuit: connection lost: the relay ended the relayed connection; still looking"), j.stderr)
        XCTAssertEqual(j.stderr.components(separatedBy: "trying /ip4/51.20.0.1/").count - 1, 2, j.stderr)
    }

    /// Both DHT nodes serve circuit relay. The one holding the board's reservation goes away after the record is out:
    /// the board reserves on the other and publishes the record again with the new circuit (a higher IPNS sequence,
    /// which the DHT nodes take over the first, as the IPNS spec's selection says); a laptop that looks afterwards
    /// finds the new circuit and pairs through it.
    func testALostReservationMovesToTheOtherRelayAndTheRecordFollows() throws {
        let lab = try NATLab(["--mapping", "none"])
        defer { lab.down() }
        try lab.startDHT(relay: true, bothRelays: true)
        let (inv, words) = try invite(lab)
        defer { inv.stop() }
        guard inv.waitForLog("relay: reservation on ", within: 20), inv.waitForLog("DHT: advertisement stored on", within: 20),
            let line = inv.stderr.split(separator: "\n").first(where: { $0.contains("relay: reservation on ") }),
            let first = lab.bootstrap.firstIndex(where: { line.contains($0.components(separatedBy: "/p2p/")[1]) })
        else { return XCTFail("no reservation: " + inv.stderr) }
        let other = 1 - first
        let circuit = { (k: Int) in lab.bootstrap[k] + "/p2p-circuit" }
        lab.nodes[first].stop()
        XCTAssertTrue(inv.waitForLog("lost the reservation: ", within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("relay: reservation on " + circuit(other), within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored again (with the new relay) on 1 peer(s)", within: 20), inv.stderr)
        let j = try join(lab, words, bootstrap: other)
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 40), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertTrue(j.stderr.contains("paired through the relay " + circuit(other) + "/p2p/"), j.stderr)
        XCTAssertFalse(j.stderr.contains("trying " + circuit(first)), j.stderr)
    }

    /// The laptop found the record while the board's relay was there, and the relay goes away while the laptop is
    /// still getting through it (a slow relay, given with `--relay` so that the board takes it first: each chunk waits
    /// 2 s). The board moves to the other relay and publishes again; the laptop, its addresses used up, looks again,
    /// opens the newer record (a higher IPNS sequence) and pairs through the new relay.
    func testAJoinerWithTheOldRecordLooksAgainAndFollowsTheDevice() throws {
        let lab = try NATLab(["--mapping", "none"])
        defer { lab.down() }
        try lab.startDHT(relay: true, relayDelay: 2_000, bothRelays: true)
        let slow = lab.bootstrap[0] + "/p2p-circuit", other = lab.bootstrap[1] + "/p2p-circuit"
        let (inv, words) = try invite(lab, ["--relay", lab.bootstrap[0]])
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("relay: reservation on " + slow, within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        let j = try join(lab, words)
        defer { j.stop() }
        XCTAssertTrue(j.waitForLog("trying " + slow + "/p2p/", within: 30), j.stderr)
        lab.nodes[0].stop()
        XCTAssertTrue(inv.waitForLog("relay: reservation on " + other, within: 20), inv.stderr)
        XCTAssertEqual(j.wait(seconds: 50), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertTrue(j.stderr.contains("DHT: a newer record: the device published again; the advertisement of 'Home NAS'"), j.stderr)
        XCTAssertTrue(j.stderr.contains("paired through the relay " + other + "/p2p/"), j.stderr)
    }

    /// The same, but the laptop's router gives every connection a port of its own: the port the laptop named is not
    /// the one its dial leaves from, and neither side's SYN gets through. Both dial, neither gets a direct
    /// connection, and the relay carries the pairing all the same.
    func testARouterThatChangesPortsDefeatsTheHolePunchAndTheRelayCarriesOn() throws {
        let (inv, j) = try pairThroughTheRelay(["--mapping", "none", "--stealth", "--random-ports"], relayDelay: 250)
        XCTAssertTrue(inv.stderr.contains("hole punch: dialling /ip4/51.20.0.3/tcp/"), inv.stderr)
        XCTAssertTrue(j.stderr.contains("hole punch: dialling /ip4/51.20.0.2/tcp/"), j.stderr)
        XCTAssertFalse(inv.stderr.contains("hole punch: direct connection"), inv.stderr)
        XCTAssertFalse(j.stderr.contains("hole punch: direct connection"), j.stderr)
    }

    /// A relay given in the settings (`--relay`) that is not among the DHT peers (none of which serves relay here):
    /// the board asks it, advertises its circuit, and the laptop pairs through it.
    func testAConfiguredRelayCarriesThePairing() throws {
        let bad = try Spawned(agent, ["invite", "--relay", "/ip4/51.20.0.1/tcp/4001", "--state-dir", stateDirectory()])
        XCTAssertEqual(bad.wait(), 2)
        XCTAssertTrue(bad.stderr.contains("--relay needs the relay's peer id: /ip4/51.20.0.1/tcp/4001/p2p/<id>"), bad.stderr)
        let lab = try NATLab(["--mapping", "none"])
        defer { lab.down() }
        try lab.startDHT()
        let relayNode = try lab.run("inet", URL(fileURLWithPath: "/usr/bin/env"), ["python3", DHTTests.fixture, "node", "--ip", "51.20.0.1", "--timeout", "150", "--relay"])
        defer { relayNode.stop() }
        guard let relayAddress = relayNode.line(startingWith: "LISTEN ", within: 30), relayNode.line(startingWith: "READY", within: 30) != nil else {
            return XCTFail("relay node: " + relayNode.stderr)
        }
        let inv = try lab.run("board", agent, ["invite", "--no-mdns", "--listen", "/ip4/0.0.0.0/tcp/4001", "--dht-bootstrap", lab.bootstrap[0], "--relay", relayAddress,
                                               "--state-dir", stateDirectory(), "--name", "Home NAS", "--expiry", "60"])
        defer { inv.stop() }
        guard let words = inv.line(startingWith: "CODE: ") else { return XCTFail("invite: " + inv.stderr) }
        XCTAssertTrue(inv.waitForLog("relay: reservation on " + relayAddress + "/p2p-circuit", within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        let j = try join(lab, words)
        defer { j.stop() }
        XCTAssertEqual(j.wait(seconds: 40), 0, "join: " + j.stderr)
        XCTAssertEqual(inv.wait(seconds: 10), 0, "invite: " + inv.stderr)
        XCTAssertTrue(j.stderr.contains("paired through the relay " + relayAddress + "/p2p-circuit/p2p/"), j.stderr)
    }

    /// Carrier-grade NAT: no mapping can help, and the board says it asks a relay instead.
    func testPairsThroughARelayBehindCarrierGradeNAT() throws {
        let inv = try pairThroughTheRelay(["--cgnat"]).board
        XCTAssertTrue(inv.stderr.contains("not reachable from outside: the router 192.168.10.1 has no public address of its own (double NAT, or carrier-grade NAT at the provider); asking a relay to carry connections from elsewhere"), inv.stderr)
    }

    /// The same router with TCP 4001 forwarded to the board by hand: the address the DHT peers reported is the way
    /// in, and they pair.
    func testPortForwardedByHandPairsThroughTheObservedAddress() throws {
        let lab = try NATLab(["--mapping", "none"])
        defer { lab.down() }
        lab.forward(4001)
        try lab.startDHT()
        let (inv, words) = try invite(lab)
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("advertised as /ip4/51.20.0.2/tcp/4001 for a router that forwards the port", within: 20), inv.stderr)
        XCTAssertTrue(inv.waitForLog("DHT: advertisement stored on", within: 20), inv.stderr)
        _ = try pairThroughThePublicAddress(lab, inv, words)
    }

    /// The router's own WAN address is in the provider's shared range (100.64/10): miniupnpd refuses to map, and the
    /// board says it sits behind another NAT.
    func testCarrierGradeNATIsNamed() throws {
        let lab = try NATLab(["--cgnat"])
        defer { lab.down() }
        try lab.startDHT()
        let (inv, _) = try invite(lab)
        defer { inv.stop() }
        XCTAssertTrue(inv.waitForLog("not reachable from outside: the router 192.168.10.1 has no public address of its own (double NAT, or carrier-grade NAT at the provider)", within: 20), inv.stderr)
        XCTAssertEqual(lab.mappings, [])
    }
}
