import Crypto
import Wire

/// A libp2p peer id for an Ed25519 key: the identity multihash (0x00, 36) of the serialized `PublicKey`
/// protobuf, 38 bytes; its text form is base58btc (it starts with "12D3KooW").
public struct PeerID: Equatable, Sendable {
    public static let byteLength = 38
    public var publicKey: Ed25519.PublicKey

    public init(publicKey: Ed25519.PublicKey) { self.publicKey = publicKey }

    public var bytes: FixedBytes<38> {
        var out = FixedBytes<38>()
        out[0] = 0x00  // identity multihash
        out[1] = UInt8(PublicKeyProtobuf.encodedLength)
        out.withUnsafeMutableBytes { raw in
            _ = PublicKeyProtobuf.encode(publicKey, into: UnsafeMutableRawBufferPointer(rebasing: raw[2...]))
        }
        return out
    }

    public var text: String { bytes.withUnsafeBytes { Base58.encode($0) } }

    public enum Error: Swift.Error, Equatable, Sendable { case invalid }

    /// Parses the binary form (identity multihash of an Ed25519 key only). Not inlined: its callers (addresses,
    /// DHT answers, relay messages) would each carry a copy of the key decoder.
    @inline(never)
    public init(bytes: UnsafeRawBufferPointer) throws(Error) {
        guard bytes.count == Self.byteLength, bytes[0] == 0x00, Int(bytes[1]) == PublicKeyProtobuf.encodedLength else { throw .invalid }
        do { publicKey = try PublicKeyProtobuf.decode(UnsafeRawBufferPointer(rebasing: bytes[2...])) } catch { throw .invalid }
    }

    /// Parses the base58btc text form.
    public init(text: String) throws(Error) {
        var buffer = FixedBytes<64>()
        var copy = text
        let length = copy.withUTF8 { utf8 in
            buffer.withUnsafeMutableBytes { raw in Base58.decode(UnsafeRawBufferPointer(utf8), into: raw) }
        }
        guard let length else { throw .invalid }
        let parsed = buffer.withUnsafeBytes { raw in Self.parsed(UnsafeRawBufferPointer(rebasing: raw[0..<length])) }
        guard let parsed else { throw .invalid }
        self = parsed
    }

    static func parsed(_ bytes: UnsafeRawBufferPointer) -> PeerID? {
        do { return try PeerID(bytes: bytes) } catch { return nil }
    }
}

/// Base58 with the Bitcoin alphabet (multibase "z" without the prefix, as peer ids are written).
public enum Base58 {
    static let alphabet: StaticString = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    /// Longest input we convert: 64 bytes encode to at most 88 characters. Bounded so the work is fixed.
    public static let maxBytes = 64

    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        guard bytes.count <= maxBytes else { return "" }
        var digits = InlineArray<96, UInt8>(repeating: 0)  // base-58 digits, least significant first
        var used = 0
        for byte in bytes {
            var carry = Int(byte)
            var i = 0
            while i < used || carry != 0 {
                if i < used { carry += Int(digits[i]) * 256 }
                digits[i] = UInt8(carry % 58)
                carry /= 58
                i += 1
            }
            used = max(used, i)
        }
        var out = ""
        for byte in bytes {
            guard byte == 0 else { break }
            out.unicodeScalars.append("1")
        }
        var i = used
        while i > 0 {
            i -= 1
            out.unicodeScalars.append(Unicode.Scalar(alphabet.utf8Start[Int(digits[i])]))
        }
        return out
    }

    /// Decodes into `out`; returns the length, or nil on a character outside the alphabet or an overlong input.
    public static func decode(_ text: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard text.count <= 96 else { return nil }
        var bytes = InlineArray<72, UInt8>(repeating: 0)  // big number, least significant byte first
        var used = 0
        for c in text {
            guard let value = digitValue(c) else { return nil }
            var carry = Int(value)
            var i = 0
            while i < used || carry != 0 {
                guard i < 72 else { return nil }
                if i < used { carry += Int(bytes[i]) * 58 }
                bytes[i] = UInt8(carry & 0xFF)
                carry >>= 8
                i += 1
            }
            used = max(used, i)
        }
        var zeros = 0
        for c in text {
            guard c == UInt8(ascii: "1") else { break }
            zeros += 1
        }
        let total = zeros + used
        guard total <= out.count else { return nil }
        for i in 0..<zeros { out[i] = 0 }
        for i in 0..<used { out[zeros + i] = bytes[used - 1 - i] }
        return total
    }

    static func digitValue(_ c: UInt8) -> UInt8? {
        for i in 0..<58 where alphabet.utf8Start[i] == c { return UInt8(i) }
        return nil
    }
}
