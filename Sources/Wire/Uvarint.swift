/// Unsigned LEB128 varints as the multiformats unsigned-varint spec defines them (used by libp2p framing and by
/// our pairing stream): 7 bits a byte, low group first, minimal encoding, at most 9 bytes for 63-bit values.
public enum Uvarint {
    /// The spec caps varints at 9 bytes (63 bits of value); anything longer is malformed, not merely large.
    public static let maxEncodedLength = 9

    public static func encodedLength(_ value: UInt64) -> Int {
        var n = 1
        var v = value >> 7
        while v != 0 {
            n += 1
            v >>= 7
        }
        return n
    }

    /// Decodes one varint at the start of `bytes`; returns the value and the number of bytes it used.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (value: UInt64, length: Int) {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for i in 0..<min(bytes.count, maxEncodedLength) {
            let b = bytes[i]
            value |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                // A final zero group after the first byte means a longer-than-needed encoding.
                if b == 0 && i > 0 { throw .varintNotMinimal }
                return (value, i + 1)
            }
            shift += 7
        }
        if bytes.count >= maxEncodedLength { throw .varintOverlong }
        throw .truncated
    }
}
