/// Appends fields to a caller-owned buffer; throws `WireError.overflow` instead of writing past its end.
public struct ByteWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    public private(set) var count: Int = 0

    public init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    public var remaining: Int { buffer.count - count }

    /// The bytes written so far.
    public var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }

    public mutating func write(_ byte: UInt8) throws(WireError) {
        guard remaining >= 1 else { throw .overflow }
        buffer[count] = byte
        count += 1
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard remaining >= bytes.count else { throw .overflow }
        if let base = bytes.baseAddress, bytes.count > 0 {
            (buffer.baseAddress! + count).copyMemory(from: base, byteCount: bytes.count)
        }
        count += bytes.count
    }

    public mutating func write<let n: Int>(_ bytes: FixedBytes<n>) throws(WireError) {
        try bytes.withUnsafeBytes { (raw) throws(WireError) in try write(raw) }
    }

    /// Writes the bytes of a static ASCII label (domain-separation strings).
    public mutating func write(_ label: StaticString) throws(WireError) {
        try write(UnsafeRawBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount))
    }

    public mutating func writeUInt16BigEndian(_ value: UInt16) throws(WireError) {
        try write(UInt8(value >> 8))
        try write(UInt8(value & 0xFF))
    }

    public mutating func writeUvarint(_ value: UInt64) throws(WireError) {
        var v = value
        repeat {
            let low = UInt8(v & 0x7F)
            v >>= 7
            try write(v == 0 ? low : low | 0x80)
        } while v != 0
    }

    /// Reserves `n` bytes to be filled by a later call (e.g. a MAC computed over what follows).
    public mutating func reserve(_ n: Int) throws(WireError) -> UnsafeMutableRawBufferPointer {
        guard remaining >= n else { throw .overflow }
        defer { count += n }
        return UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + n)])
    }
}

extension ByteWriter {
    /// Forgets everything written after `count` bytes (used after moving data down within the buffer).
    public mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate beyond written bytes")
        count = newCount
    }
}
