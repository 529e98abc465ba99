/// Reads fields front to back from a caller-owned buffer, never past its end. Every read either returns a
/// complete field or throws `WireError.truncated`; nothing is copied to the heap.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset: Int = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func readByte() throws(WireError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A view of the next `count` bytes, valid as long as the underlying buffer is.
    public mutating func readSlice(_ count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw .truncated }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    public mutating func readFixed<let n: Int>(_: FixedBytes<n>.Type = FixedBytes<n>.self) throws(WireError) -> FixedBytes<n> {
        let slice = try readSlice(n)
        // Cannot fail: the slice has exactly n bytes.
        return FixedBytes<n>(copying: slice) ?? FixedBytes<n>()
    }

    public mutating func readUInt16BigEndian() throws(WireError) -> UInt16 {
        let hi = try readByte()
        let lo = try readByte()
        return UInt16(hi) << 8 | UInt16(lo)
    }

    public mutating func readUvarint() throws(WireError) -> UInt64 {
        let (value, used) = try Uvarint.decode(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        offset += used
        return value
    }
}
