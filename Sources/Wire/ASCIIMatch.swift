extension String {
    /// Byte-exact comparison with an ASCII literal. `==` on `String` applies Unicode canonical equivalence, which
    /// pulls ~150 KB of normalisation tables into an Embedded binary; command words and keys need no such thing.
    public func isExactly(_ literal: StaticString) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        var i = 0
        for c in utf8 {
            guard i < bytes.count, bytes[i] == c else { return false }
            i += 1
        }
        return i == bytes.count
    }

    /// Byte-exact prefix test against an ASCII literal.
    public func startsWithExactly(_ literal: StaticString) -> Bool {
        let bytes = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        var i = 0
        for c in utf8 {
            if i == bytes.count { return true }
            guard bytes[i] == c else { return false }
            i += 1
        }
        return i == bytes.count
    }
}

extension UnsafeRawBufferPointer {
    /// Byte-exact comparison with an ASCII literal (field names in a decoded map).
    public func isExactly(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        for i in 0..<count where self[i] != literal.utf8Start[i] { return false }
        return true
    }

    /// Byte-exact comparison of two views (public values only; secrets use `Crypto.constantTimeEqual`).
    public func sameBytes(as other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        for i in 0..<count where self[i] != other[i] { return false }
        return true
    }
}
