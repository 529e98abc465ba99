import Transport
import Wire

/// Kademlia messages as libp2p peers speak them (`/ipfs/kad/1.0.0`, libp2p kad-dht spec): each message is
/// `uvarint(length) ‖ protobuf Message`. We send three requests and read their responses:
///
///     Message { type = 1 (PUT_VALUE 0, GET_VALUE 1, FIND_NODE 4); key = 2; record = 3; closerPeers = 8 }
///     Record  { key = 1; value = 2 }            Peer { id = 1; addrs = 2 (binary multiaddrs); connection = 3 }
public enum KadMessage {
    public enum Kind: UInt64 { case putValue = 0, getValue = 1, findNode = 4 }

    static func encodeRecord(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int {
        var w = ByteWriter(out)
        do {
            try w.writeProtobufBytes(field: 1, key)
            try w.writeProtobufBytes(field: 2, value)
        } catch { return -1 }
        return w.count
    }

    /// Writes one framed request. For PUT_VALUE, `value` is the record's value (the record key is `key`).
    public static func request(_ kind: Kind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?, into out: UnsafeMutableRawBufferPointer) -> Int? {
        // Body first (after room for the longest length prefix), then the prefix in front of it.
        var body = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: out[3...]))
        do {
            if kind != .putValue { try body.writeProtobufVarint(field: 1, kind.rawValue) }
            try body.writeProtobufBytes(field: 2, key)
            if let value {
                var record = FixedBytes<1100>()
                let n = record.withUnsafeMutableBytes { encodeRecord(key: key, value: value, into: $0) }
                guard n > 0 else { return nil }
                try record.withUnsafeBytes { (raw) throws(WireError) in try body.writeProtobufBytes(field: 3, UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
            }
        } catch { return nil }
        let length = body.count
        guard length < 1 << 21 else { return nil }
        let prefix = Uvarint.encodedLength(UInt64(length))
        // Move the body right behind its prefix.
        let start = 3 - prefix
        var w = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: out[start..<3]))
        do { try w.writeUvarint(UInt64(length)) } catch { return nil }
        if start > 0 { out.baseAddress!.copyMemory(from: out.baseAddress! + start, byteCount: prefix + length) }
        return prefix + length
    }
}

/// One peer from a response's closerPeers, reduced to what we can use: an Ed25519 identity (our Noise
/// authenticates no other key type) and its first dialable TCP address.
public struct KadPeer: Equatable {
    public var id: PeerID
    public var address: Multiaddr

    public init(id: PeerID, address: Multiaddr) {
        self.id = id
        self.address = address
    }
}

/// What a response field carried.
public enum KadItem {
    case peer(KadPeer)
    /// A peer we cannot use (other key type, no TCP address): skipped, counted for the log.
    case unusablePeer
    /// The record's value (GET_VALUE), a view into the caller's buffer valid until the next call.
    case record(UnsafeRawBufferPointer)
    case otherField
}

/// Reads a response as its bytes arrive, one top-level field at a time, so a response of any size needs only
/// a buffer as large as its largest single field: peers with long address lists or signed records (py-libp2p
/// attaches them) stream through a fixed stream buffer.
public struct KadResponseReader {
    /// py-libp2p's own limit for a whole message.
    public static let maxMessageLength = 4 << 20
    /// A single field (one peer, one record) larger than this is refused: an honest peer entry is ~1 KiB.
    public static let maxFieldLength = 8 << 10

    private var remaining: Int? = nil
    public private(set) var isComplete = false

    public init() {}

    public enum Step {
        case needMore
        case item(KadItem, used: Int)
        case complete(used: Int)
    }

    /// Looks at the buffered bytes; returns what the next complete field says and how many bytes it used.
    public mutating func next(_ input: UnsafeRawBufferPointer) throws(KadError) -> Step {
        guard !isComplete else { return .complete(used: 0) }
        var prefixUsed = 0
        if remaining == nil {
            let decoded: (value: UInt64, length: Int)
            do { decoded = try Uvarint.decode(input) } catch {
                if error == .truncated { return .needMore }
                throw .malformed
            }
            guard decoded.value <= UInt64(Self.maxMessageLength) else { throw .oversized }
            remaining = Int(decoded.value)
            prefixUsed = decoded.length
        }
        guard var left = remaining else { return .needMore }
        if left == 0 {
            isComplete = true
            return .complete(used: prefixUsed)
        }
        let window = UnsafeRawBufferPointer(rebasing: input[prefixUsed..<(prefixUsed + min(left, input.count - prefixUsed))])
        var reader = ProtobufReader(window)
        let field: ProtobufField?
        do { field = try reader.next() } catch {
            if error == .truncated && window.count < left {
                // The field continues beyond what arrived; wait unless it can never fit.
                if window.count >= Self.maxFieldLength { throw .oversized }
                return prefixUsed > 0 ? .item(.otherField, used: prefixUsed) : .needMore
            }
            throw .malformed
        }
        guard let field else { return prefixUsed > 0 ? .item(.otherField, used: prefixUsed) : .needMore }
        let used = reader.offset
        left -= used
        remaining = left
        if left == 0 { isComplete = true }
        return .item(Self.item(field), used: prefixUsed + used)
    }

    static func item(_ field: ProtobufField) -> KadItem {
        switch (field.number, field.value) {
        case (8, .bytes(let peer)):
            return Self.peer(peer).map { .peer($0) } ?? .unusablePeer
        case (3, .bytes(let record)):
            var r = ProtobufReader(record)
            while let f = Self.field(&r) {
                if f.number == 2, case .bytes(let value) = f.value { return .record(value) }
            }
            return .otherField
        default:
            return .otherField
        }
    }

    static func field(_ r: inout ProtobufReader) -> ProtobufField? {
        do { return try r.next() } catch { return nil }
    }

    static func peer(_ bytes: UnsafeRawBufferPointer) -> KadPeer? {
        var r = ProtobufReader(bytes)
        var id: PeerID? = nil
        var address: Multiaddr? = nil
        var addressesSeen = 0
        while let f = field(&r) {
            guard case .bytes(let b) = f.value else { continue }
            if f.number == 1 {
                id = peerID(b)
            } else if f.number == 2, address == nil, addressesSeen < 16 {
                addressesSeen += 1
                address = multiaddr(b)
            }
        }
        guard let id, var address else { return nil }
        address.peer = id
        return KadPeer(id: id, address: address)
    }

    static func peerID(_ b: UnsafeRawBufferPointer) -> PeerID? {
        do { return try PeerID(bytes: b) } catch { return nil }
    }

    /// Only /ip4 or /ip6 with /tcp (optionally ending in /p2p, not a relay circuit) is dialable by us; loopback and unspecified
    /// addresses from remote peers are as good as any on a test LAN, so they are not filtered here.
    static func multiaddr(_ b: UnsafeRawBufferPointer) -> Multiaddr? {
        // A relay circuit is not a DHT peer's own address: its relay is not the peer we would ask.
        guard let a = try? Multiaddr(binary: b), a.relay == nil else { return nil }
        return a
    }
}

public enum KadError: Error, Equatable {
    case malformed
    case oversized

    public var text: String {
        switch self {
        case .malformed: "malformed Kademlia message"
        case .oversized: "oversized Kademlia message"
        }
    }
}
