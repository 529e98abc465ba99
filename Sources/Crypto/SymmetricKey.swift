import Wire

/// A 32-byte secret key (HMAC, HKDF output, ChaCha20-Poly1305). Owners wipe it when done.
public struct SymmetricKey: Sendable {
    public var bytes: FixedBytes<32>

    public init(bytes: FixedBytes<32>) { self.bytes = bytes }

    public static func random<R: RandomSource>(using rng: inout R) -> SymmetricKey {
        SymmetricKey(bytes: rng.bytes())
    }

    public mutating func wipe() { bytes.wipe() }

    /// Constant-time comparison.
    public func constantTimeEquals(_ other: SymmetricKey) -> Bool { bytes.constantTimeEquals(other.bytes) }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try bytes.withUnsafeBytes(body)
    }
}
