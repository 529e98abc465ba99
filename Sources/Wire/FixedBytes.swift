/// A fixed number of bytes stored inline (no heap), the building block of keys, digests and identifiers.
///
/// The members are `@inlinable` so that other modules get them specialised for their `count`: unspecialised
/// value-generic code was measured to add ~15% to a whole pairing exchange (Benchmarks/PairingBench).
///
/// `==` here is an ordinary early-exit comparison, meant for public values; compare secrets with
/// `Crypto.constantTimeEqual`.
public struct FixedBytes<let count: Int>: Equatable, Sendable {
    public var storage: InlineArray<count, UInt8>

    /// All zero bytes.
    @inlinable public init() { storage = InlineArray(repeating: 0) }

    @inlinable public init(repeating value: UInt8) { storage = InlineArray(repeating: value) }

    /// Copies exactly `count` bytes; returns nil when `bytes` has another length.
    @inlinable public init?(copying bytes: UnsafeRawBufferPointer) {
        guard bytes.count == count else { return nil }
        storage = InlineArray(repeating: 0)
        for i in 0..<count { storage[i] = bytes[i] }
    }

    @inlinable public subscript(index: Int) -> UInt8 {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    @inlinable public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let span = storage.span
        return try span.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(E) -> R in try body(raw) }
    }

    @inlinable public mutating func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        var span = storage.mutableSpan
        return try span.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) throws(E) -> R in
            try body(raw)
        }
    }

    @inlinable public static func == (lhs: Self, rhs: Self) -> Bool {
        for i in 0..<count where lhs.storage[i] != rhs.storage[i] { return false }
        return true
    }
}

extension FixedBytes {
    /// Builds a value from a byte array literal-like sequence (tests, vectors). Returns nil on a length mismatch.
    public init?(_ bytes: [UInt8]) {
        guard let value = bytes.withUnsafeBytes({ FixedBytes(copying: $0) }) else { return nil }
        self = value
    }

    /// The bytes as an array; for tests and tools, not for hot paths.
    public var array: [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        for i in 0..<count { out[i] = storage[i] }
        return out
    }
}
