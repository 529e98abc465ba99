import Wire

/// DCUtR, direct connection upgrade through relay (libp2p/specs relay/DCUtR.md): the two messages the peers of a
/// relayed connection exchange on a `/libp2p/dcutr` stream to open a direct TCP connection at the same moment from
/// both sides (simultaneous open), which gets through two NATs that map a socket to the same public port whatever
/// it talks to. Each message is a protobuf prefixed with its length as an unsigned varint:
///
///     HolePunch { type = 1 (CONNECT 100, SYNC 300); ObsAddrs = 2 (repeated bytes: binary multiaddrs) }
///
/// The side that took the relayed connection in sends CONNECT with its addresses and times the answer; the other
/// answers CONNECT with its own; the first sends SYNC and dials after half the measured round trip, the other dials
/// as SYNC arrives.
public enum HolePunch {
    public static var protocolID: StaticString { "/libp2p/dcutr" }
    /// The spec: refuse messages over 4 KiB. One address is all either side needs, so our own stay under 64 bytes.
    public static let maxMessageLength = 4096

    public enum Kind: UInt64 {
        case connect = 100
        case sync = 300
    }

    public typealias Error = LengthPrefixed.Error

    public struct Message: Equatable {
        public var kind: Kind
        /// The first address we can dial (IPv4 or IPv6 with TCP); the others (QUIC, DNS, circuits) are skipped.
        public var address: Multiaddr?

        public init(kind: Kind, address: Multiaddr?) {
            self.kind = kind
            self.address = address
        }
    }

    public enum Step: Equatable {
        case needMore
        case message(Message, used: Int)
    }

    /// CONNECT with `address` (none: we cannot say where we are), or SYNC; nil when `out` is too small.
    public static func write(_ kind: Kind, _ address: Multiaddr?, into out: UnsafeMutableRawBufferPointer) -> Int? {
        var w = ByteWriter(out)
        do {
            try w.write(0)  // the length, set below (our messages stay under 128 bytes: a one-byte varint)
            try w.write(0x08)
            try w.writeUvarint(kind.rawValue)
            if let address {
                var copy = address
                copy.peer = nil
                copy.relay = nil
                try w.write(0x12)
                let lengthAt = w.count
                try w.write(0)
                try copy.encode(into: &w)
                out[lengthAt] = UInt8(w.count - lengthAt - 1)
            }
        } catch { return nil }
        out[0] = UInt8(w.count - 1)
        return w.count
    }

    /// Reads one message at the start of `input`: `.needMore` until all of it is there. A message without a type, or
    /// with a type other than CONNECT or SYNC, is malformed.
    public static func read(_ input: UnsafeRawBufferPointer) throws(Error) -> Step {
        guard let (body, used) = try LengthPrefixed.frame(input, maxLength: maxMessageLength) else { return .needMore }
        var reader = ProtobufReader(body)
        var kind: Kind? = nil
        var address: Multiaddr? = nil
        while let field = try CircuitRelay.next(&reader) {
            if field.number == 1 {
                guard case .varint(let v) = field.value, let k = Kind(rawValue: v) else { throw .malformed }
                kind = k
            } else if field.number == 2 {
                guard case .bytes(let b) = field.value else { throw .malformed }  // a known field, the wrong wire type
                if address == nil { address = try? Multiaddr(binary: b) }
            }
        }
        guard let kind else { throw .malformed }
        address?.peer = nil  // an address ending in /p2p/<id> (or a circuit) is still the host and port we dial
        address?.relay = nil
        return .message(Message(kind: kind, address: address), used: used)
    }
}
