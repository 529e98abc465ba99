import Wire

/// One message prefixed with its length as an unsigned varint, the framing of libp2p's small protobuf protocols
/// (identify, circuit relay v2).
public enum LengthPrefixed {
    public enum Error: Swift.Error, Equatable {
        case malformed
        case oversized
    }

    /// The message at the start of `input` and how many bytes it used with its prefix; nil until all of it is there.
    static func frame(_ input: UnsafeRawBufferPointer, maxLength: Int) throws(Error) -> (body: UnsafeRawBufferPointer, used: Int)? {
        let length: UInt64, used: Int
        do { (length, used) = try Uvarint.decode(input) } catch {
            if error == .truncated { return nil }
            throw .malformed
        }
        guard length <= UInt64(maxLength) else { throw .oversized }
        guard input.count - used >= Int(length) else { return nil }
        return (UnsafeRawBufferPointer(rebasing: input[used..<used + Int(length)]), used + Int(length))
    }
}
