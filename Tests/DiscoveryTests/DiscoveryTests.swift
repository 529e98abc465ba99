import Crypto
import Discovery
import Pairing
import Transport
import Wire
import XCTest

/// Hostile and malformed discovery input, sans-IO: TXT records from the LAN, records and messages from DHT peers.
final class DiscoveryTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    var rng = SystemRandom()

    func peer() -> PeerID { PeerID(publicKey: Ed25519.KeyPair.generate(using: &rng).publicKey) }

    func sid(_ byte: UInt8) -> SessionID { SessionID(bytes: FixedBytes<16>([UInt8](repeating: byte, count: 16))!) }

    // MARK: mDNS TXT

    func parse(_ entries: [[UInt8]]) -> Result<ServiceText, ServiceTextError> {
        var p = ServiceText.Parser()
        for e in entries {
            let r: ServiceTextError? = e.withUnsafeBytes { raw in Self.add(&p, raw) }
            if let r { return .failure(r) }
        }
        do { return .success(try p.finish()) } catch { return .failure(error) }
    }

    static func add(_ p: inout ServiceText.Parser, _ raw: UnsafeRawBufferPointer) -> ServiceTextError? {
        do { try p.add(raw) } catch { return error }
        return nil
    }

    func testServiceTextRoundTripsAndRefusesHostileAnswers() throws {
        let id = peer()
        let text = ServiceText(sessionID: sid(7), peer: id)
        let (s, p) = (text.entries[0], text.entries[1])
        XCTAssertEqual(text.entries.count, 2)
        XCTAssertEqual(try parse([Array(s.utf8), Array(p.utf8), Array("other=1".utf8)]).get(), text)
        // The device's addresses: IPv4 and IPv6 round-trip; more than four, and ones that do not read, are skipped.
        let hosts: [Multiaddr.Host] = [.ip4(FixedBytes<4>([192, 168, 1, 20])!), .ip4(FixedBytes<4>([10, 0, 0, 7])!),
                                       try Multiaddr(text: "/ip6/fd00::20/tcp/1").host]
        let withHosts = ServiceText(sessionID: sid(7), peer: id, hosts: hosts)
        XCTAssertEqual(withHosts.entries.suffix(3), ["ip=192.168.1.20", "ip=10.0.0.7", "ip=fd00::20"])
        XCTAssertEqual(try parse(withHosts.entries.map { Array($0.utf8) }).get(), withHosts)
        let noisy = withHosts.entries + ["ip=999.1.1.1", "ip=", "ip=" + String(repeating: "1", count: 60), "ip=192.0.2.1", "ip=192.0.2.2", "ip=192.0.2.3"]
        XCTAssertEqual(try parse(noisy.map { Array($0.utf8) }).get().hosts, hosts + [.ip4(FixedBytes<4>([192, 0, 2, 1])!)])
        let cases: [([[UInt8]], ServiceTextError)] = [
            ([Array(p.utf8)], .missingSessionID),
            ([Array(s.utf8)], .missingPeerID),
            ([Array("sid=zz".utf8), Array(p.utf8)], .badSessionID),
            ([Array((s + "00").utf8), Array(p.utf8)], .badSessionID),
            ([Array(s.utf8), Array("p2p=QmNotAnEd25519Key".utf8)], .badPeerID),
            ([Array(s.utf8), Array(("p2p=" + String(repeating: "1", count: 100)).utf8)], .badPeerID),
            ([Array(s.utf8), Array(s.utf8), Array(p.utf8)], .duplicateKey),
            ([[UInt8](repeating: 0x41, count: 300)], .oversizedEntry),
            ([[UInt8]](repeating: Array("x=1".utf8), count: 17), .tooManyEntries),
        ]
        for (entries, expected) in cases {
            guard case .failure(let e) = parse(entries) else { return XCTFail("accepted \(entries.count) hostile entries") }
            XCTAssertEqual(e, expected)
        }
        // Random garbage never traps.
        for _ in 0..<2000 {
            let n = Int.random(in: 0...4)
            _ = parse((0..<n).map { _ in (0..<Int.random(in: 0...80)).map { _ in UInt8.random(in: 0...255) } })
        }
    }

    // MARK: Sealed advertisement

    func device() -> DeviceInfo {
        try! DeviceInfo.make(deviceID: DeviceID(bytes: FixedBytes<16>()), name: "Secret NAS", type: .server, osVersion: "Debian 12", appVersion: "0.1.0")
    }

    func seal(_ key: SymmetricKey, _ recordKey: String, _ ad: Advertisement) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 640)
        let aad = Array(recordKey.utf8)
        let n = out.withUnsafeMutableBytes { o in aad.withUnsafeBytes { ad.seal(key: key, aad: $0, random: &rng, into: o) } }!
        return Array(out[0..<n])
    }

    func open(_ sealed: [UInt8], _ key: SymmetricKey, _ recordKey: String) -> Result<Advertisement, AdvertisementError> {
        sealed.withUnsafeBytes { raw in Self.open(raw, key, recordKey) }
    }

    static func open(_ raw: UnsafeRawBufferPointer, _ key: SymmetricKey, _ recordKey: String) -> Result<Advertisement, AdvertisementError> {
        let aad = Array(recordKey.utf8)
        do {
            return .success(try aad.withUnsafeBytes { (a) throws(AdvertisementError) in try Advertisement.open(raw, key: key, aad: a) })
        } catch { return .failure(error as! AdvertisementError) }
    }

    /// The addresses a board's record lists: the public ones first, then the relay's circuit, then its own; never a
    /// wildcard; at most eight.
    func testTheRecordListsPublicThenRelayThenOwnAddresses() throws {
        let mapped = try Multiaddr(text: "/ip4/203.0.113.7/tcp/4001")
        let circuit = try Multiaddr(text: "/ip4/198.51.100.9/tcp/4001/p2p/12D3KooWSFhJanrcgh5ZgQcpW2HfX2LFn4vfS3GgdHVa2QutXRTC/p2p-circuit")
        let lan = try Multiaddr(text: "/ip4/192.168.1.20/tcp/4001")
        let wildcard = try Multiaddr(text: "/ip6/::/tcp/4001")
        XCTAssertEqual(Advertisement.listing(public: [mapped], circuit: circuit, own: [lan, wildcard]), [mapped, circuit, lan])
        XCTAssertEqual(Advertisement.listing(public: [], circuit: nil, own: [wildcard, lan]), [lan])
        let many = (1...12).map { Multiaddr(host: .ip4(FixedBytes<4>(repeating: UInt8($0))), port: 4001) }
        XCTAssertEqual(Advertisement.listing(public: [mapped], circuit: circuit, own: many), [mapped, circuit] + many.prefix(6))
    }

    func testAdvertisementOpensOnlyWithTheCodeAndTheKey() throws {
        let key = SymmetricKey(bytes: rng.bytes())
        let id = peer()
        let addresses = [try Multiaddr(text: "/ip4/192.168.1.20/tcp/4001"), try Multiaddr(text: "/ip6/fd00::1/tcp/4001")]
        let ad = Advertisement(peer: id, device: device(), addresses: addresses, expires: 1_800_000_123)
        let sealed = seal(key, "/sd-pair/aa", ad)
        let opened = try open(sealed, key, "/sd-pair/aa").get()
        XCTAssertEqual(opened.peer, id)
        XCTAssertEqual(opened.addresses, addresses)
        XCTAssertEqual(opened.expires, 1_800_000_123)
        XCTAssertEqual(opened.device.name.string, "Secret NAS")
        // Nothing readable in the sealed bytes.
        XCTAssertNil(sealed.firstRange(of: Array("Secret NAS".utf8)))
        XCTAssertNil(sealed.firstRange(of: [192, 168, 1, 20]))
        // Wrong code, another session's key, tampering, truncation, oversize.
        XCTAssertEqual(open(sealed, SymmetricKey(bytes: rng.bytes()), "/sd-pair/aa").failureValue, .wrongKey)
        XCTAssertEqual(open(sealed, key, "/sd-pair/bb").failureValue, .wrongKey)
        for i in stride(from: 0, to: sealed.count, by: 7) {
            var t = sealed
            t[i] ^= 0x01
            XCTAssertEqual(open(t, key, "/sd-pair/aa").failureValue, .wrongKey)
        }
        XCTAssertEqual(open(Array(sealed[0..<20]), key, "/sd-pair/aa").failureValue, .truncated)
        XCTAssertEqual(open([UInt8](repeating: 1, count: 5000), key, "/sd-pair/aa").failureValue, .oversized)
    }

    // MARK: Kademlia messages

    /// Feeds `bytes` to a reader in chunks of `chunk`, the way a stream delivers them; returns items or the error.
    enum Item { case peer(KadPeer), record([UInt8]), unusablePeer, otherField }

    func read(_ bytes: [UInt8], chunk: Int) -> Result<[Item], KadError> {
        var reader = KadResponseReader()
        var buffer: [UInt8] = []
        var items: [Item] = []
        var offset = 0
        for _ in 0..<100_000 {
            if offset < bytes.count {
                buffer += bytes[offset..<min(bytes.count, offset + chunk)]
                offset += chunk
            }
            let step: KadResponseReader.Step
            switch buffer.withUnsafeBytes({ raw in Self.next(&reader, raw) }) {
            case .failure(let e): return .failure(e)
            case .success(let s): step = s
            }
            switch step {
            case .needMore:
                if offset >= bytes.count { return .success(items) }
            case .item(let item, let used):
                switch item {  // a record is a view into the buffer: copy it before the buffer moves
                case .peer(let p): items.append(.peer(p))
                case .record(let v): items.append(.record(Array(v)))
                case .unusablePeer: items.append(.unusablePeer)
                case .otherField: items.append(.otherField)
                }
                buffer.removeFirst(used)
            case .complete(let used):
                buffer.removeFirst(used)
                return .success(items)
            }
        }
        return .success(items)
    }

    static func next(_ reader: inout KadResponseReader, _ raw: UnsafeRawBufferPointer) -> Result<KadResponseReader.Step, KadError> {
        do { return .success(try reader.next(raw)) } catch { return .failure(error) }
    }

    func frame(_ body: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 10 + body.count)
        let n = out.withUnsafeMutableBytes { raw -> Int in
            var w = ByteWriter(raw)
            try! w.writeUvarint(UInt64(body.count))
            body.withUnsafeBytes { b in try! w.write(b) }
            return w.count
        }
        return Array(out[0..<n])
    }

    func field(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16 + bytes.count)
        let n = out.withUnsafeMutableBytes { raw -> Int in
            var w = ByteWriter(raw)
            bytes.withUnsafeBytes { b in try! w.writeProtobufBytes(field: number, b) }
            return w.count
        }
        return Array(out[0..<n])
    }

    func peerField(_ id: PeerID, raw: [UInt8]) -> [UInt8] {
        field(8, field(1, id.bytes.withUnsafeBytes { Array($0) }) + field(2, raw))
    }

    func peerField(_ id: PeerID, _ address: String?) -> [UInt8] {
        var body = field(1, id.bytes.withUnsafeBytes { Array($0) })
        if let address {
            let a = try! Multiaddr(text: address)
            var raw = [UInt8](repeating: 0, count: 64)
            let n = raw.withUnsafeMutableBytes { r -> Int in
                var w = ByteWriter(r)
                try! a.encode(into: &w)
                return w.count
            }
            body += field(2, Array(raw[0..<n]))
        }
        body += [0x18, 0x01]  // connection = CONNECTED
        return field(8, body)
    }

    func testKadResponseStreamsPeersAndRecordsAtAnyChunking() throws {
        let a = peer(), b = peer()
        let body = [0x08, 0x01] + field(2, Array("/sd-pair/aa".utf8)) + field(3, field(1, Array("/sd-pair/aa".utf8)) + field(2, [1, 2, 3]))
            + peerField(a, "/ip4/10.0.0.1/tcp/4001") + peerField(b, raw: [0x36, 11] + Array("example.com".utf8) + [0x06, 0x0F, 0xA1]) + field(11, [UInt8](repeating: 9, count: 300))
        for chunk in [1, 2, 3, 7, 64, 10_000] {
            let items = try read(frame(body), chunk: chunk).get()
            var peers: [KadPeer] = []
            var record: [UInt8]? = nil
            var unusable = 0
            for item in items {
                switch item {
                case .peer(let p): peers.append(p)
                case .record(let v): record = v
                case .unusablePeer: unusable += 1
                case .otherField: break
                }
            }
            XCTAssertEqual(peers.map(\.id), [a], "chunk \(chunk)")
            XCTAssertEqual(peers.first?.address.text, "/ip4/10.0.0.1/tcp/4001/p2p/" + a.text)
            XCTAssertEqual(unusable, 1, "a peer with only a DNS address is skipped")
            XCTAssertEqual(record, [1, 2, 3])
        }
    }

    func testKadResponseRefusesMalformedAndOversized() {
        // A field whose length runs past the message.
        XCTAssertEqual(read(frame([0x12, 0x7F, 0x01]), chunk: 100).failureValue, .malformed)
        // A wire type no libp2p message uses.
        XCTAssertEqual(read(frame([0x0B, 0x01]), chunk: 100).failureValue, .malformed)
        // A message larger than py-libp2p would ever send.
        XCTAssertEqual(read([0x80, 0x80, 0x80, 0x04], chunk: 100).failureValue, .oversized)
        // One field too large for the stream buffer.
        let huge = field(8, [UInt8](repeating: 0, count: 20_000))
        XCTAssertEqual(read(frame(huge), chunk: 4096).failureValue, .oversized)
        // Garbage of every kind: typed errors or items, never a trap.
        for _ in 0..<3000 {
            let n = Int.random(in: 0...200)
            _ = read((0..<n).map { _ in UInt8.random(in: 0...255) }, chunk: Int.random(in: 1...50))
        }
        // Malformed multiaddrs inside a peer: the peer is unusable, the response goes on.
        let bad = field(8, field(1, peer().bytes.withUnsafeBytes { Array($0) }) + field(2, [0x04, 0x7F]))
        if case .success(let all) = read(frame(bad), chunk: 3) {
            let items = all.filter { if case .otherField = $0 { return false } else { return true } }
            XCTAssertEqual(items.count, 1)
            if case .unusablePeer = items[0] {} else { XCTFail("expected an unusable peer") }
        } else { XCTFail("a bad address must not fail the whole response") }
    }

    func testRequestsAreFramedProtobuf() throws {
        var out = [UInt8](repeating: 0, count: 1024)
        let key = Array("/sd-pair/aa".utf8)
        let n = try XCTUnwrap(out.withUnsafeMutableBytes { o in key.withUnsafeBytes { k in KadMessage.request(.findNode, key: k, value: nil, into: o) } })
        XCTAssertEqual(Array(out[0..<n]), frame([0x08, 0x04] + field(2, key)))
        let m = try XCTUnwrap(out.withUnsafeMutableBytes { o in key.withUnsafeBytes { k in [UInt8]([7, 7]).withUnsafeBytes { v in KadMessage.request(.putValue, key: k, value: v, into: o) } } })
        XCTAssertEqual(Array(out[0..<m]), frame(field(2, key) + field(3, field(1, key) + field(2, [7, 7]))))
    }

    // MARK: Lookup

    func testLookupTableStaysBoundedAndAsksTheClosestFirst() {
        var lookup = Array("/sd-pair/aa".utf8).withUnsafeBytes { KadLookup(key: $0) }
        var added: [PeerID] = []
        for _ in 0..<200 {
            let p = peer()
            added.append(p)
            lookup.add(KadPeer(id: p, address: try! Multiaddr(text: "/ip4/10.0.0.1/tcp/1")))
        }
        XCTAssertEqual(lookup.count, KadLookup.capacity, "the table never grows beyond its constant")
        var asked: [Int] = []
        while let i = lookup.next() { asked.append(i) }
        XCTAssertEqual(asked.count, KadLookup.alpha, "at most α requests in flight")
        for i in asked { lookup.failed(i) }
        XCTAssertFalse(lookup.isFinished)
        for _ in 0..<100 {
            guard let i = lookup.next() else { break }
            lookup.answered(i)
        }
        XCTAssertTrue(lookup.isFinished)
    }
}

extension Result {
    var failureValue: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

/// Security review finding 3: no mDNS answer is lost, and fakes cannot push the real device out.
final class AnswerQueueTests: XCTestCase {
    func answer(_ n: Int, interface: Int32 = 2) -> PendingAnswers.Answer {
        PendingAnswers.Answer(interface: interface, proto: 0, name: try! FixedText("NAS \(n)"), domain: try! FixedText("local"))
    }

    func testPendingAnswersKeepTheNewestDeduplicateAndForgetWithdrawn() {
        var q = PendingAnswers()
        XCTAssertTrue(q.push(answer(0)))
        XCTAssertFalse(q.push(answer(0)), "a repeated answer waits once")
        XCTAssertTrue(q.push(answer(0, interface: 3)), "another interface is another answer")
        for n in 1...40 { q.push(answer(n)) }
        XCTAssertEqual(q.count, PendingAnswers.capacity)
        XCTAssertEqual(q.takeForgotten(), 42 - PendingAnswers.capacity)
        XCTAssertEqual(q.takeForgotten(), 0)
        q.remove(answer(40))
        q.remove(answer(20))
        var order: [String] = []
        while let a = q.pop() { order.append(a.name.string) }
        XCTAssertEqual(order.count, PendingAnswers.capacity - 2)
        XCTAssertEqual(order.first, "NAS 9", "the oldest ten were forgotten")
        XCTAssertEqual(order.last, "NAS 39", "the newest kept, in order")
        XCTAssertFalse(order.contains("NAS 20") || order.contains("NAS 40"), "withdrawn services left the queue")
    }

    func testCandidateQueueGivesUpItsOldestForANewcomerAndCapsOnePeer() throws {
        var q = CandidateQueue()
        func peer(_ n: UInt8) -> PeerID {
            PeerID(publicKey: Ed25519.KeyPair(seed: FixedBytes(repeating: n)).publicKey)
        }
        func candidate(_ n: Int, peer p: PeerID) -> Candidate {
            Candidate(address: Multiaddr(host: .ip4(FixedBytes<4>(repeating: 10)), port: UInt16(4000 + n), peer: p), source: .mdns)
        }
        let fake = peer(1)
        for n in 0..<10 { q.push(candidate(n, peer: fake)) }
        XCTAssertEqual(q.count, CandidateQueue.perPeer, "one peer id holds at most \(CandidateQueue.perPeer) places")
        for n in 0..<20 { q.push(candidate(100 + n, peer: peer(UInt8(10 + n)))) }
        XCTAssertEqual(q.count, CandidateQueue.capacity)
        let real = candidate(999, peer: peer(99))
        XCTAssertTrue(q.push(real), "a full queue makes room for the newest answer")
        XCTAssertFalse(q.push(real), "but not twice")
        var last: Candidate? = nil
        while let c = q.pop() { last = c }
        XCTAssertEqual(last, real)
    }
}
