/// Why a byte-level read or write failed. Decoders built on `ByteReader` map these to their own typed errors.
public enum WireError: Error, Equatable, Sendable {
    /// The input ended before the field was complete.
    case truncated
    /// The output buffer is too small for what was written.
    case overflow
    /// A uvarint was longer than its 10-byte maximum, or its value did not fit 64 bits.
    case varintOverlong
    /// A uvarint used more bytes than needed (libp2p's unsigned-varint spec requires minimal encoding).
    case varintNotMinimal
}
