/// What can go wrong in a cryptographic call. Each case is a property of the input, never a reason to trap.
public enum CryptoError: Error, Equatable, Sendable {
    /// `sodium_init` failed (no usable entropy source); nothing else in this module may be used.
    case libraryUnavailable
    /// An Ed25519 signature did not verify.
    case invalidSignature
    /// AEAD authentication failed: wrong key, wrong nonce, or tampered data.
    case authenticationFailed
    /// X25519 produced the all-zero point: the peer sent a low-order public key.
    case weakPublicKey
    /// A caller-provided buffer has the wrong size for the operation.
    case badLength
    /// HKDF-Expand was asked for more than 255·32 bytes.
    case outputTooLong
}
