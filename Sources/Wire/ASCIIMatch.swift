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
