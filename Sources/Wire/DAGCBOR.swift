/// The slice of DAG-CBOR (ipld/specs "DAG-CBOR", RFC 8949 core deterministic encoding) an IPNS record's `data`
/// field needs: one flat map whose keys are text strings and whose values are unsigned integers, byte strings or
/// text strings. Nothing else exists in that map, so nothing else is accepted.
///
/// Strict, because DAG-CBOR is: every head uses its shortest form, no indefinite lengths, map keys strictly
/// increasing in DAG-CBOR order (shorter key first, then bytewise), which also refuses duplicate keys. A signed
/// record is verified over its exact bytes, so a lenient reader would buy nothing and open room for ambiguity.
public enum CBORError: Error, Equatable, Sendable {
    case truncated
    /// A head longer than needed, or a reserved additional-information value (28–30).
    case nonCanonical
    /// Indefinite lengths (additional information 31) are not DAG-CBOR.
    case indefiniteLength
    /// Negative integers, arrays, nested maps, tags, floats and simple values have no place in this map.
    case unsupportedType
    case notAMap
    case tooManyEntries
    case keysOutOfOrder
    case trailingBytes
}

public enum CBORValue {
    case unsigned(UInt64)
    /// A view into the input, valid as long as the input is.
    case bytes(UnsafeRawBufferPointer)
    case text(UnsafeRawBufferPointer)
}

/// Reads `map { key: value, … }` entry by entry over the caller's buffer; copies nothing.
public struct CBORMapReader {
    /// IPNS data has five standard fields; room for a few application fields, no more.
    public static let maxEntries = 12

    private var reader: ByteReader
    public private(set) var entriesLeft: Int
    private var previousKey: UnsafeRawBufferPointer? = nil

    public init(_ bytes: UnsafeRawBufferPointer) throws(CBORError) {
        reader = ByteReader(bytes)
        let (major, count) = try Self.head(&reader)
        guard major == 5 else { throw .notAMap }
        guard count <= UInt64(Self.maxEntries) else { throw .tooManyEntries }
        entriesLeft = Int(count)
    }

    /// The next entry, or nil after the last one (and then the input must be exhausted).
    public mutating func next() throws(CBORError) -> (key: UnsafeRawBufferPointer, value: CBORValue)? {
        guard entriesLeft > 0 else {
            guard reader.isAtEnd else { throw .trailingBytes }
            return nil
        }
        entriesLeft -= 1
        guard case .text(let key) = try Self.value(&reader) else { throw .unsupportedType }
        if let previous = previousKey, !Self.ordered(previous, key) { throw .keysOutOfOrder }
        previousKey = key
        return (key, try Self.value(&reader))
    }

    /// DAG-CBOR's map key order: the shorter key first; equal lengths bytewise.
    static func ordered(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        if a.count != b.count { return a.count < b.count }
        for i in 0..<a.count where a[i] != b[i] { return a[i] < b[i] }
        return false
    }

    static func value(_ r: inout ByteReader) throws(CBORError) -> CBORValue {
        let (major, argument) = try head(&r)
        switch major {
        case 0:
            return .unsigned(argument)
        case 2, 3:
            guard argument <= UInt64(r.remaining) else { throw .truncated }
            let slice: UnsafeRawBufferPointer
            do { slice = try r.readSlice(Int(argument)) } catch { throw .truncated }
            return major == 2 ? .bytes(slice) : .text(slice)
        default:
            throw .unsupportedType
        }
    }

    /// One head: major type (3 bits) and its argument, in its shortest form.
    static func head(_ r: inout ByteReader) throws(CBORError) -> (UInt8, UInt64) {
        let first: UInt8
        do { first = try r.readByte() } catch { throw .truncated }
        let major = first >> 5
        let info = first & 0x1F
        if info < 24 { return (major, UInt64(info)) }
        if info == 31 { throw .indefiniteLength }
        guard info <= 27 else { throw .nonCanonical }
        let width = 1 << Int(info - 24)  // 1, 2, 4 or 8 bytes
        var argument: UInt64 = 0
        for _ in 0..<width {
            do { argument = argument << 8 | UInt64(try r.readByte()) } catch { throw .truncated }
        }
        // Shortest form: each width must be needed.
        let smallest: UInt64 = width == 1 ? 24 : 1 << UInt64(4 * width)
        guard argument >= smallest else { throw .nonCanonical }
        return (major, argument)
    }
}

extension ByteWriter {
    /// A CBOR head in its shortest form (what DAG-CBOR requires).
    public mutating func writeCBORHead(major: UInt8, _ argument: UInt64) throws(WireError) {
        let top = major << 5
        if argument < 24 { return try write(top | UInt8(argument)) }
        let width = argument <= 0xFF ? 1 : argument <= 0xFFFF ? 2 : argument <= 0xFFFF_FFFF ? 4 : 8
        try write(top | UInt8(24 + (width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : 3)))
        for k in stride(from: width - 1, through: 0, by: -1) { try write(UInt8(truncatingIfNeeded: argument >> UInt64(8 * k))) }
    }

    public mutating func writeCBORText(_ label: StaticString) throws(WireError) {
        try writeCBORHead(major: 3, UInt64(label.utf8CodeUnitCount))
        try write(label)
    }

    public mutating func writeCBORBytes(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        try writeCBORHead(major: 2, UInt64(bytes.count))
        try write(bytes)
    }
}
