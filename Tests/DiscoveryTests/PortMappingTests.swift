import Discovery
import Transport
import Wire
import XCTest

/// The port mapping's sans-IO parts: the NAT-PMP client (RFC 6886) against scripted router answers, `upnpc`'s
/// output, and which addresses a joiner may dial. The real router (miniupnpd) is in NATLabTests.
final class PortMappingTests: XCTestCase {
    func send(_ c: inout NATPMPClient, _ now: UInt64) -> [UInt8]? {
        var out = FixedBytes<12>()
        guard let n = c.datagram(now: now, into: &out) else { return nil }
        return out.withUnsafeBytes { Array($0[0..<n]) }
    }

    func answer(_ c: inout NATPMPClient, _ bytes: [UInt8], _ now: UInt64) {
        bytes.withUnsafeBytes { c.receive($0, now: now) }
    }

    func testNATPMPMapsRenewsAndDeletes() {
        var c = NATPMPClient(internalPort: 4001, lifetimeSeconds: 120, now: 1000)
        XCTAssertEqual(send(&c, 1000), [0, 0])
        XCTAssertNil(send(&c, 1100), "a retry before 250 ms")
        answer(&c, [0, 0x80, 0, 0, 0, 0, 0, 9, 51, 20, 0, 2], 1010)
        XCTAssertEqual(c.phase, .mapping)
        XCTAssertEqual(c.publicAddress, FixedBytes<4>([51, 20, 0, 2])!)
        // map TCP (opcode 2), internal 4001, suggested external 4001, lifetime 120.
        XCTAssertEqual(send(&c, 1010), [0, 2, 0, 0, 0x0f, 0xa1, 0x0f, 0xa1, 0, 0, 0, 120])
        answer(&c, [0, 0x82, 0, 0, 0, 0, 0, 9, 0x0f, 0xa1, 0x13, 0x88, 0, 0, 0, 100], 1020)  // external 5000, 100 s
        XCTAssertEqual(c.phase, .mapped)
        XCTAssertEqual(c.externalPort, 5000)
        // Renewed at half the granted lifetime, asking for the port it has.
        XCTAssertNil(send(&c, 1020 + 49_000))
        XCTAssertEqual(send(&c, 1020 + 50_000), [0, 2, 0, 0, 0x0f, 0xa1, 0x13, 0x88, 0, 0, 0, 120])
        answer(&c, [0, 0x82, 0, 0, 0, 0, 0, 9, 0x0f, 0xa1, 0x13, 0x88, 0, 0, 0, 120], 51_030)
        // Deletion: lifetime 0, suggested port 0; done when the router confirms.
        c.release(now: 60_000)
        XCTAssertEqual(send(&c, 60_000), [0, 2, 0, 0, 0x0f, 0xa1, 0, 0, 0, 0, 0, 0])
        answer(&c, [0, 0x82, 0, 0, 0, 0, 0, 9, 0x0f, 0xa1, 0, 0, 0, 0, 0, 0], 60_005)
        XCTAssertEqual(c.phase, .finished)
    }

    func testNATPMPRetriesThenGivesUpAndNamesTheRoutersAnswers() {
        var c = NATPMPClient(internalPort: 4001, lifetimeSeconds: 120, now: 0)
        var sent: [UInt64] = []
        for t in stride(from: UInt64(0), through: 5000, by: 50) where send(&c, t) != nil { sent.append(t) }
        XCTAssertEqual(sent, [0, 250, 750, 1750], "RFC 6886: 250 ms, doubling")
        XCTAssertEqual(c.phase, .failed(.noAnswer))

        var cgnat = NATPMPClient(internalPort: 4001, lifetimeSeconds: 120, now: 0)
        _ = send(&cgnat, 0)
        answer(&cgnat, [0, 0x80, 0, 3, 0, 0, 0x1d, 0x1a, 0, 0, 0, 0], 5)  // miniupnpd with a reserved WAN address
        XCTAssertEqual(cgnat.phase, .failed(.noPublicAddress))

        var closed = NATPMPClient(internalPort: 4001, lifetimeSeconds: 120, now: 0)
        _ = send(&closed, 0)
        closed.refused()
        XCTAssertEqual(closed.phase, .failed(.noAnswer))

        // Junk, other opcodes, short datagrams, a mapping for another port: ignored.
        var c2 = NATPMPClient(internalPort: 4001, lifetimeSeconds: 120, now: 0)
        _ = send(&c2, 0)
        for junk: [UInt8] in [[], [1, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], [0, 0x81, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], [0, 0x80, 0, 0]] {
            answer(&c2, junk, 1)
        }
        XCTAssertEqual(c2.phase, .askingAddress)
        answer(&c2, [0, 0x80, 0, 0, 0, 0, 0, 9, 51, 20, 0, 2], 2)
        _ = send(&c2, 2)
        answer(&c2, [0, 0x82, 0, 0, 0, 0, 0, 9, 0x0f, 0xa2, 0x0f, 0xa2, 0, 0, 0, 120], 3)
        XCTAssertEqual(c2.phase, .mapping)
        answer(&c2, [0, 0x82, 0, 0, 0, 0, 0, 9, 0x0f, 0xa1, 0, 0, 0, 0, 0, 120], 4)  // external port 0: not a mapping
        XCTAssertEqual(c2.phase, .failed(.refused(2)))
    }

    func read(_ text: String, chunk: Int) -> UPnPOutput {
        var o = UPnPOutput()
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            bytes[i..<min(bytes.count, i + chunk)].withUnsafeBytes { o.feed($0) }
            i += chunk
        }
        o.finish()
        return o
    }

    func testUPnPOutputAtAnyChunking() {
        let mapped = """
            Found valid IGD : http://192.168.10.1:33023/ctl/IPConn
            ExternalIPAddress = 51.20.0.2
            external 51.20.0.2:4001 TCP is redirected to internal 192.168.10.2:4001 (duration=120)
            """
        for chunk in [1, 3, 7, 500] {
            let o = read(mapped, chunk: chunk)
            XCTAssertEqual(o.externalAddress, FixedBytes<4>([51, 20, 0, 2])!)
            XCTAssertEqual(o.externalPort, 4001)
            XCTAssertFalse(o.notConnected)
        }
        XCTAssertTrue(read("Found a (not connected?) IGD : http://192.168.10.1:1/x\n", chunk: 4).notConnected)
        let none = read("No IGD UPnP Device found on the network !\n", chunk: 4)
        XCTAssertTrue(none.externalAddress == nil && none.externalPort == 0 && !none.notConnected)
        for bad in ["ExternalIPAddress = 300.1.1.1", "ExternalIPAddress = 1.2.3", "ExternalIPAddress = 1.2.3.4.5", "ExternalIPAddress = ",
                    "external 1.2.3.4:99999 TCP is redirected to internal x"] {
            let o = read(bad + "\n", chunk: 2)
            XCTAssertTrue(o.externalAddress == nil || o.externalPort == 0, bad)
            XCTAssertEqual(o.externalPort, 0, bad)
        }
        XCTAssertEqual(read(String(repeating: "x", count: 5000) + "\nExternalIPAddress = 1.2.3.4\n", chunk: 64).externalAddress, FixedBytes<4>([1, 2, 3, 4])!)
    }

    func testWhichAddressesAJoinerMayDial() throws {
        let cases: [(String, AddressScope)] = [
            ("/ip4/127.0.0.1/tcp/1", .loopback), ("/ip4/10.1.2.3/tcp/1", .local), ("/ip4/172.16.0.1/tcp/1", .local),
            ("/ip4/172.32.0.1/tcp/1", .global), ("/ip4/192.168.1.1/tcp/1", .local), ("/ip4/100.64.0.1/tcp/1", .local),
            ("/ip4/100.128.0.1/tcp/1", .global), ("/ip4/169.254.1.1/tcp/1", .local), ("/ip4/51.20.0.2/tcp/1", .global),
            ("/ip6/::1/tcp/1", .loopback), ("/ip6/fd00::1/tcp/1", .local), ("/ip6/fe80::1/tcp/1", .local), ("/ip6/2001:db8::1/tcp/1", .global),
        ]
        for (text, scope) in cases {
            let a = try Multiaddr(text: text)
            XCTAssertEqual(AddressScope.of(a.host), scope, text)
        }
        XCTAssertTrue(AddressScope.isDialable(try Multiaddr(text: "/ip4/127.0.0.1/tcp/1").host))
        XCTAssertTrue(AddressScope.isDialable(try Multiaddr(text: "/ip4/51.20.0.2/tcp/1").host))
        // A private network this machine is not on (the carrier-grade NAT range: no test host sits in it).
        XCTAssertFalse(AddressScope.isDialable(try Multiaddr(text: "/ip4/100.127.254.253/tcp/1").host))
    }
}
