/// Noise messages on the wire: a 2-byte big-endian length, then the message (libp2p noise spec).
public enum NoiseFrame {
    public static let headerLength = 2
    public static let maxLength = 65535

    /// The length of the complete frame at the start of `bytes`, or nil if it has not all arrived.
    public static func complete(in bytes: UnsafeRawBufferPointer) -> (body: Range<Int>, total: Int)? {
        guard bytes.count >= headerLength else { return nil }
        let length = Int(bytes[0]) << 8 | Int(bytes[1])
        guard bytes.count >= headerLength + length else { return nil }
        return (headerLength..<(headerLength + length), headerLength + length)
    }

    public static func writeHeader(_ length: Int, into out: UnsafeMutableRawBufferPointer) {
        out[0] = UInt8(truncatingIfNeeded: length >> 8)
        out[1] = UInt8(truncatingIfNeeded: length)
    }
}
