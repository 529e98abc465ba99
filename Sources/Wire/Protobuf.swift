/// The subset of the protobuf wire format libp2p uses (varint and length-delimited fields), read and written over
/// caller buffers. Unknown fields are skipped, as protobuf requires; groups and fixed-width fields are rejected
/// because no libp2p message we read uses them.
public enum ProtobufError: Error, Equatable, Sendable {
    case truncated
    case malformedVarint
    case unsupportedWireType(UInt8)
    case invalidFieldNumber
}

public struct ProtobufField {
    public enum Value {
        case varint(UInt64)
        case bytes(UnsafeRawBufferPointer)
    }
    public var number: UInt64
    public var value: Value
}

public struct ProtobufReader {
    private var reader: ByteReader

    public init(_ bytes: UnsafeRawBufferPointer) { reader = ByteReader(bytes) }

    /// Bytes consumed so far (for readers that consume a stream field by field).
    public var offset: Int { reader.offset }

    /// The next field, or nil at the end of the message.
    public mutating func next() throws(ProtobufError) -> ProtobufField? {
        guard !reader.isAtEnd else { return nil }
        let key = try varint()
        let number = key >> 3
        guard number > 0 else { throw .invalidFieldNumber }
        switch UInt8(key & 7) {
        case 0:
            return ProtobufField(number: number, value: .varint(try varint()))
        case 2:
            let length = try varint()
            guard length <= UInt64(reader.remaining) else { throw .truncated }
            do { return ProtobufField(number: number, value: .bytes(try reader.readSlice(Int(length)))) } catch {
                throw .truncated
            }
        case let other:
            throw .unsupportedWireType(other)
        }
    }

    private mutating func varint() throws(ProtobufError) -> UInt64 {
        // Protobuf varints may be up to 10 bytes and need not be minimal, unlike multiformats varints.
        var value: UInt64 = 0
        for i in 0..<10 {
            let b: UInt8
            do { b = try reader.readByte() } catch { throw .truncated }
            value |= UInt64(b & 0x7F) << UInt64(7 * i)
            if b & 0x80 == 0 { return value }
        }
        throw .malformedVarint
    }
}

extension ByteWriter {
    public mutating func writeProtobufVarint(field: UInt64, _ value: UInt64) throws(WireError) {
        try writeUvarint(field << 3)
        try writeUvarint(value)
    }

    public mutating func writeProtobufBytes(field: UInt64, _ bytes: UnsafeRawBufferPointer) throws(WireError) {
        try writeUvarint(field << 3 | 2)
        try writeUvarint(UInt64(bytes.count))
        try write(bytes)
    }
}
