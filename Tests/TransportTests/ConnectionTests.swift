import Crypto
import TestSupport
import Wire
import XCTest

@testable import Transport

/// Two SecureConnections joined by an in-memory pipe; `chunk` limits bytes per transfer to exercise splitting.
final class ConnectionPair {
    let rxA = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureConnection<TestRandom>.bufferSize, alignment: 8)
    let txA = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureConnection<TestRandom>.bufferSize, alignment: 8)
    let rxB = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureConnection<TestRandom>.bufferSize, alignment: 8)
    let txB = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureConnection<TestRandom>.bufferSize, alignment: 8)
    var a: SecureConnection<TestRandom>
    var b: SecureConnection<TestRandom>
    var eventsA: [String] = []
    var eventsB: [String] = []
    var dataA: [UInt32: [UInt8]] = [:]
    var dataB: [UInt32: [UInt8]] = [:]

    init(_ ka: Ed25519.KeyPair, _ kb: Ed25519.KeyPair) {
        var r1 = TestRandom(state: 1)
        var r2 = TestRandom(state: 2)
        a = SecureConnection(role: .dialer, identity: ka, random: &r1, rx: rxA, tx: txA)
        b = SecureConnection(role: .listener, identity: kb, random: &r2, rx: rxB, tx: txB)
    }

    deinit {
        for p in [rxA, txA, rxB, txB] { p.deallocate() }
    }

    static func move(from: inout SecureConnection<TestRandom>, to: inout SecureConnection<TestRandom>, chunk: Int) -> Int {
        let out = from.pendingOutput
        let space = to.receiveSpace()
        let n = min(out.count, space.count, chunk)
        if n > 0 { space.baseAddress!.copyMemory(from: out.baseAddress!, byteCount: n) }
        from.sent(n)
        to.received(n)
        return n
    }

    static func drain(_ c: inout SecureConnection<TestRandom>, _ log: inout [String], _ data: inout [UInt32: [UInt8]]) throws {
        while let event = try c.poll() {
            switch event {
            case .established: log.append("established")
            case .streamOpened(let id): log.append("opened \(id)")
            case .streamAccepted(let id): log.append("accepted \(id)")
            case .streamData(let id, let bytes): data[id, default: []] += Array(bytes)
            case .streamFinished(let id): log.append("finished \(id)")
            case .streamReset(let id): log.append("reset \(id)")
            case .pong(let v): log.append("pong \(v)")
            case .goAway(let c): log.append("goaway \(c)")
            }
        }
    }

    /// Moves bytes both ways until nothing moves (bounded).
    func pump(chunk: Int = .max) throws {
        for _ in 0..<10_000 {
            let moved = Self.move(from: &a, to: &b, chunk: chunk) + Self.move(from: &b, to: &a, chunk: chunk)
            try Self.drain(&a, &eventsA, &dataA)
            try Self.drain(&b, &eventsB, &dataB)
            if moved == 0 && a.pendingOutput.isEmpty && b.pendingOutput.isEmpty { return }
        }
        XCTFail("pump did not settle")
    }
}

final class ConnectionTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    let alice = Ed25519.KeyPair(seed: FixedBytes(repeating: 1))
    let bob = Ed25519.KeyPair(seed: FixedBytes(repeating: 2))

    func run(chunk: Int) throws {
        let pair = ConnectionPair(alice, bob)
        try pair.a.start()
        try pair.b.start()
        try pair.pump(chunk: chunk)
        XCTAssertEqual(pair.eventsA, ["established"])
        XCTAssertEqual(pair.eventsB, ["established"])
        XCTAssertEqual(pair.a.session?.remoteIdentity, bob.publicKey)
        XCTAssertEqual(pair.b.session?.remoteIdentity, alice.publicKey)
        XCTAssertEqual(pair.a.session?.handshakeHash, pair.b.session?.handshakeHash)

        let id = try pair.a.openStream()
        XCTAssertEqual(id, 1, "the dialer opens odd streams")
        let message = [UInt8]((0..<3000).map { UInt8(truncatingIfNeeded: $0) })
        try message.withUnsafeBytes { try pair.a.write(id, $0) }
        try pair.a.finish(id)
        try pair.pump(chunk: chunk)
        XCTAssertEqual(pair.eventsB, ["established", "opened 1", "finished 1"])
        XCTAssertEqual(pair.dataB[1], message)
        XCTAssertEqual(pair.eventsA, ["established", "accepted 1"])

        try [UInt8]([9, 9]).withUnsafeBytes { try pair.b.write(1, $0) }
        try pair.b.finish(1)
        try pair.a.ping(77)
        try pair.pump(chunk: chunk)
        XCTAssertEqual(pair.dataA[1], [9, 9])
        XCTAssertEqual(pair.eventsA, ["established", "accepted 1", "finished 1", "pong 77"])
        XCTAssertEqual(pair.a.yamux.openStreams, 0, "both sides finished: the slot is free again")
    }

    func testEstablishStreamAndPingWholeWrites() throws { try run(chunk: .max) }
    func testEstablishStreamAndPingOneByteAtATime() throws { try run(chunk: 1) }
    func testEstablishStreamAndPingOddChunks() throws { try run(chunk: 7) }

    /// Enough traffic to fill the receive buffer many times over, moved in large reads, so that compaction
    /// runs with processed frames still in front of a partial one.
    func testBulkDataAcrossManyBufferFills() throws {
        let pair = ConnectionPair(alice, bob)
        try pair.a.start()
        try pair.b.start()
        try pair.pump()
        let id = try pair.a.openStream()
        var expected: [UInt8] = []
        for round in 0..<80 {
            let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 3000)
            try chunk.withUnsafeBytes { try pair.a.write(id, $0) }
            expected += chunk
            if round % 10 == 9 { try pair.pump(chunk: 65_536) }
        }
        try pair.pump(chunk: 65_536)
        XCTAssertEqual(pair.dataB[id]?.count, expected.count)
        XCTAssertEqual(pair.dataB[id], expected)
    }

    func testGarbageInsteadOfNegotiationIsRejected() throws {
        let pair = ConnectionPair(alice, bob)
        try pair.b.start()
        let garbage: [UInt8] = [0x13] + Array("/multistream/2.0.0\n".utf8)
        let space = pair.b.receiveSpace()
        for (i, byte) in garbage.enumerated() { space[i] = byte }
        pair.b.received(garbage.count)
        XCTAssertThrowsError(try pair.b.poll()) { XCTAssertEqual($0 as? ConnectionError, .negotiation(.wrongHeader)) }
    }
}
