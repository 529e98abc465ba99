import Wire

/// libp2p circuit relay v2 (libp2p/specs relay/circuit-v2.md): the messages a client sends and reads on the
/// `/libp2p/circuit/relay/0.2.0/hop` stream (to the relay: reserve a slot, or connect to a peer holding one) and on
/// the `/stop` stream (from the relay: a peer is connecting through it). Each message is a protobuf prefixed with its
/// length as an unsigned varint. Once a connect is answered with OK, both streams carry the two peers' raw bytes, and
/// the peers run an ordinary libp2p connection (multistream, Noise, yamux) inside, so the relay sees only ciphertext.
///
///     HopMessage  { type = 1 (RESERVE 0, CONNECT 1, STATUS 2); peer = 2; reservation = 3; limit = 4; status = 5 }
///     StopMessage { type = 1 (CONNECT 0, STATUS 1); peer = 2; limit = 3; status = 4 }
///     Peer        { id = 1 (bytes); addrs = 2 }
///     Reservation { expire = 1 (Unix seconds); addrs = 2; voucher = 3 }
///     Limit       { duration = 1 (seconds); data = 2 (bytes) }
public enum CircuitRelay {
    public static var hopProtocol: StaticString { "/libp2p/circuit/relay/0.2.0/hop" }
    public static var stopProtocol: StaticString { "/libp2p/circuit/relay/0.2.0/stop" }
    /// Longest message we read. The spec sets none; a relay's answer holds its addresses and a signed voucher
    /// (a few hundred bytes), so anything near the stream buffer is not an answer we need.
    public static let maxMessageLength = 2048

    public enum Kind { case hop, stop }

    public typealias Error = LengthPrefixed.Error

    /// The relay protocol's status codes (the spec's `Status` enum).
    public enum Status: UInt64 {
        case ok = 100
        case reservationRefused = 200
        case resourceLimitExceeded = 201
        case permissionDenied = 202
        case connectionFailed = 203
        case noReservation = 204
        case malformedMessage = 400
        case unexpectedMessage = 401
    }

    /// One decoded message; fields a message lacks keep their zero values.
    public struct Message: Equatable {
        /// The type number as sent (hop: 0 reserve, 1 connect, 2 status; stop: 0 connect, 1 status).
        public var type: UInt64 = 0
        /// The status code as sent (0: none); `Status(rawValue:)` names it.
        public var status: UInt64 = 0
        /// Stop CONNECT (and our hop CONNECT): the peer to connect (nil: absent, or not an Ed25519 peer id).
        /// The reservation's end and the relay's limits are not read: a reservation lasts an hour on go-libp2p,
        /// kubo and py-libp2p relays and a window at most ten minutes, and a pairing (a few KiB in about a second)
        /// stays far within the limits public relays set (2 minutes, 128 KiB).
        public var peer: PeerID? = nil

        public init() {}

        public var isOK: Bool { status == Status.ok.rawValue }
    }

    public enum Step: Equatable {
        case needMore
        case message(Message, used: Int)
    }

    // MARK: Writing
    //
    // Our three messages are short and fixed in shape, so they are written byte by byte (length prefix, then the
    // protobuf fields' keys and values); nil when `out` is too small.

    /// Hop RESERVE: asks the relay for a slot (who asks is the connection's peer). `02 | 08 00` (type = RESERVE).
    public static func reserve(into out: UnsafeMutableRawBufferPointer) -> Int? {
        put("\u{02}\u{08}\u{00}", into: out)
    }

    /// Hop CONNECT: asks the relay to reach `peer`, which holds a reservation there.
    /// `44 | 08 01 (type = CONNECT) | 12 28 (peer, 40 bytes) | 0A 26 (id, 38 bytes) <id>`.
    public static func connect(to peer: PeerID, into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard out.count >= 7 + PeerID.byteLength, put("\u{2C}\u{08}\u{01}\u{12}\u{28}\u{0A}\u{26}", into: out) != nil else { return nil }
        let id = peer.bytes
        for k in 0..<PeerID.byteLength { out[7 + k] = id[k] }
        return 7 + PeerID.byteLength
    }

    /// Stop STATUS: our answer to the relay's connect. `04 | 08 01 (type = STATUS) | 20 64 (status = OK)`; the other
    /// codes (200 and up) take a 2-byte varint.
    public static func stopStatus(_ status: Status, into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard out.count >= 6, put("\u{05}\u{08}\u{01}\u{20}", into: out) != nil else { return nil }
        let code = status.rawValue
        if code < 0x80 {
            out[0] = 0x04
            out[4] = UInt8(code)
            return 5
        }
        out[4] = UInt8(truncatingIfNeeded: code) | 0x80
        out[5] = UInt8(truncatingIfNeeded: code >> 7)
        return 6
    }

    static func put(_ bytes: StaticString, into out: UnsafeMutableRawBufferPointer) -> Int? {
        let n = bytes.utf8CodeUnitCount
        guard out.count >= n else { return nil }
        out.copyMemory(from: UnsafeRawBufferPointer(start: bytes.utf8Start, count: n))
        return n
    }

    // MARK: Reading

    /// Reads one message at the start of `input`: `.needMore` until all of it is there.
    public static func read(_ kind: Kind, _ input: UnsafeRawBufferPointer) throws(Error) -> Step {
        guard let (body, used) = try LengthPrefixed.frame(input, maxLength: maxMessageLength) else { return .needMore }
        var m = Message()
        var reader = ProtobufReader(body)
        let statusField: UInt64 = kind == .hop ? 5 : 4
        var typed = false
        while let field = try next(&reader) {
            switch (field.number, field.value) {
            case (1, .varint(let v)):
                m.type = v
                typed = true
            case (2, .bytes(let b)):
                m.peer = try peer(in: b)
            case (statusField, .varint(let v)):
                m.status = v
            case (1, _), (2, _), (statusField, _):
                throw .malformed  // a known field with the wrong wire type
            default:
                break
            }
        }
        guard typed else { throw .malformed }  // `type` is required
        return .message(m, used: used)
    }

    /// A Peer message's id (its first); nil when it is not an Ed25519 peer id, which is not a peer we can pair with.
    static func peer(in bytes: UnsafeRawBufferPointer) throws(Error) -> PeerID? {
        var reader = ProtobufReader(bytes)
        var id: PeerID? = nil
        var seen = false
        while let field = try next(&reader) {
            guard !seen, field.number == 1, case .bytes(let b) = field.value else { continue }
            seen = true
            id = try? PeerID(bytes: b)
        }
        return id
    }

    static func next(_ reader: inout ProtobufReader) throws(Error) -> ProtobufField? {
        do { return try reader.next() } catch { throw .malformed }
    }
}
