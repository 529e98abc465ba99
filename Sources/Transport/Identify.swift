import Crypto
import Wire

/// libp2p identify (`/ipfs/id/1.0.0`, libp2p/specs identify/README.md): whoever is asked sends one Identify protobuf,
/// prefixed with its length as an unsigned varint (what go-libp2p and py-libp2p 0.8.1 send), and closes the stream.
/// We answer it (DHT nodes and other libp2p peers ask every new connection) and ask it of the DHT peers the board
/// dials, for one field: the address they see the board's connection come from (observedAddr), which names the
/// public address of the router in front of it.
public enum Identify {
    public static var protocolID: StaticString { "/ipfs/id/1.0.0" }
    /// Longest answer we read: go-libp2p's own cap for a message without a signed peer record is 2 KiB, and a
    /// record adds a few hundred bytes; anything longer is skipped, not buffered.
    public static let maxMessageLength = 4096

    public typealias Error = LengthPrefixed.Error

    public enum Step: Equatable {
        case needMore
        /// A complete answer: the observed address if it is a TCP address we understand, whether the peer serves
        /// circuit relay v2 (it lists the hop protocol), and the bytes it used.
        case answer(observed: Multiaddr?, relay: Bool, used: Int)
    }

    /// Our answer, length prefix included; nil if it does not fit `out`. `protocols`: what this connection may
    /// negotiate now. No listenAddrs: the board's addresses are for code holders, inside the sealed record; a
    /// stranger who connects learns nothing more than the address it dialled (and we serve no DHT, so no node
    /// needs them for its routing table).
    public static func answer(
        publicKey: Ed25519.PublicKey, observed: Multiaddr?,
        protocols: InlineArray<4, StaticString>, protocolCount: Int, into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        // The body goes two bytes in (room for its length's varint, which is at most 2 bytes below 16 KiB), then
        // moves down if the prefix needs one byte.
        guard out.count > 2 else { return nil }
        var w = ByteWriter(UnsafeMutableRawBufferPointer(rebasing: out[2...]))
        do {
            try w.writeProtobufBytes(field: 5, raw("ipfs/0.1.0"))
            try w.writeProtobufBytes(field: 6, raw("sd-pair"))
            var key = FixedBytes<40>()
            let n = key.withUnsafeMutableBytes { PublicKeyProtobuf.encode(publicKey, into: $0) }
            try key.withUnsafeBytes { k throws(WireError) in try w.writeProtobufBytes(field: 1, UnsafeRawBufferPointer(rebasing: k[0..<n])) }
            if let observed {
                var bytes = FixedBytes<96>()  // a relay circuit with both peer ids: 92 bytes
                let n = try bytes.withUnsafeMutableBytes { raw throws(WireError) -> Int in
                    var aw = ByteWriter(raw)
                    try observed.encode(into: &aw)
                    return aw.count
                }
                try bytes.withUnsafeBytes { b throws(WireError) in try w.writeProtobufBytes(field: 4, UnsafeRawBufferPointer(rebasing: b[0..<n])) }
            }
            for i in 0..<min(protocolCount, 4) { try w.writeProtobufBytes(field: 3, raw(protocols[i])) }
        } catch { return nil }
        let body = w.count
        let prefix = Uvarint.encodedLength(UInt64(body))
        guard prefix <= 2 else { return nil }
        if prefix == 1 { (out.baseAddress! + 1).copyMemory(from: out.baseAddress! + 2, byteCount: body) }
        var p = ByteWriter(out)
        do { try p.writeUvarint(UInt64(body)) } catch { return nil }
        return prefix + body
    }

    /// Reads an answer at the start of `input`: `.needMore` until the whole message is there.
    public static func read(_ input: UnsafeRawBufferPointer) throws(Error) -> Step {
        guard let (body, used) = try LengthPrefixed.frame(input, maxLength: maxMessageLength) else { return .needMore }
        var reader = ProtobufReader(body)
        var observed: Multiaddr? = nil
        var relay = false
        while true {
            let field: ProtobufField?
            do { field = try reader.next() } catch { throw .malformed }
            guard let field else { break }
            // Another transport (QUIC, a relay circuit) is not an address we can be dialled at: ignored, not an error.
            if field.number == 4, case .bytes(let b) = field.value { observed = (try? Multiaddr(binary: b)).flatMap { $0.relay == nil ? $0 : nil } }
            if field.number == 3, case .bytes(let b) = field.value, Multistream.equals(b, CircuitRelay.hopProtocol) { relay = true }
        }
        return .answer(observed: observed, relay: relay, used: used)
    }

    private static func raw(_ s: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
}
