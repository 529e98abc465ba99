import CSodium
import Wire

/// Library start-up and the two primitives every secret needs: wiping and constant-time comparison.
public enum Sodium {
    /// Initialises libsodium. Call once at process start, before any other function of this module; calling again
    /// is harmless. Fails only when the system offers no entropy source.
    public static func initialize() throws(CryptoError) {
        if sodium_init() < 0 { throw .libraryUnavailable }
    }

    /// Overwrites memory in a way the compiler may not optimise away (`sodium_memzero`).
    public static func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        sodium_memzero(base, bytes.count)
    }

    /// Compares two buffers in time that depends only on their length. Different lengths compare unequal.
    public static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let pa = a.baseAddress, let pb = b.baseAddress else { return true }
        return sodium_memcmp(pa, pb, a.count) == 0
    }
}

extension FixedBytes {
    /// Zeroes the bytes with `sodium_memzero`.
    public mutating func wipe() {
        withUnsafeMutableBytes { Sodium.wipe($0) }
    }

    /// Constant-time equality, for MACs, proofs and keys.
    public func constantTimeEquals(_ other: Self) -> Bool {
        withUnsafeBytes { a in other.withUnsafeBytes { b in Sodium.constantTimeEqual(a, b) } }
    }
}
