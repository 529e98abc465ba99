import CSodium
import Wire

/// Ed25519 signatures (libsodium `crypto_sign_*`): device identities and the pairing challenge.
public enum Ed25519 {
    public struct PublicKey: Equatable, Sendable {
        public var bytes: FixedBytes<32>
        public init(bytes: FixedBytes<32>) { self.bytes = bytes }
    }

    /// libsodium's 64-byte secret key (seed ‖ public key). Wipe when done.
    public struct SecretKey: Sendable {
        public var bytes: FixedBytes<64>
        public init(bytes: FixedBytes<64>) { self.bytes = bytes }
        public mutating func wipe() { bytes.wipe() }

        /// The 32-byte seed the key was made from (its first half), e.g. to persist the identity compactly.
        public var seed: FixedBytes<32> {
            var out = FixedBytes<32>()
            for i in 0..<32 { out[i] = bytes[i] }
            return out
        }
    }

    public struct Signature: Equatable, Sendable {
        public var bytes: FixedBytes<64>
        public init(bytes: FixedBytes<64>) { self.bytes = bytes }
    }

    public struct KeyPair: Sendable {
        public var publicKey: PublicKey
        public var secretKey: SecretKey

        /// A fresh key pair from the given randomness.
        public static func generate<R: RandomSource>(using rng: inout R) -> KeyPair {
            var seed: FixedBytes<32> = rng.bytes()
            defer { seed.wipe() }
            return KeyPair(seed: seed)
        }

        /// The deterministic key pair for a 32-byte seed (RFC 8032).
        public init(seed: FixedBytes<32>) {
            var pk = FixedBytes<32>()
            var sk = FixedBytes<64>()
            pk.withUnsafeMutableBytes { pkRaw in
                sk.withUnsafeMutableBytes { skRaw in
                    seed.withUnsafeBytes { seedRaw in
                        _ = crypto_sign_seed_keypair(
                            pkRaw.bytes,
                            skRaw.bytes,
                            seedRaw.bytes)
                    }
                }
            }
            publicKey = PublicKey(bytes: pk)
            secretKey = SecretKey(bytes: sk)
        }

        public mutating func wipe() { secretKey.wipe() }
    }

    public static func sign(_ message: UnsafeRawBufferPointer, with secretKey: SecretKey) -> Signature {
        var sig = FixedBytes<64>()
        sig.withUnsafeMutableBytes { sigRaw in
            secretKey.bytes.withUnsafeBytes { skRaw in
                _ = crypto_sign_detached(
                    sigRaw.bytes, nil,
                    message.bytes, UInt64(message.count),
                    skRaw.bytes)
            }
        }
        return Signature(bytes: sig)
    }

    /// `verify` as a Bool, for call sites that only branch on the outcome.
    public static func isValidSignature(_ signature: Signature, of message: UnsafeRawBufferPointer, by publicKey: PublicKey) -> Bool {
        do {
            try verify(signature, of: message, by: publicKey)
            return true
        } catch {
            return false
        }
    }

    public static func verify(
        _ signature: Signature, of message: UnsafeRawBufferPointer, by publicKey: PublicKey
    ) throws(CryptoError) {
        let status = signature.bytes.withUnsafeBytes { sigRaw in
            publicKey.bytes.withUnsafeBytes { pkRaw in
                crypto_sign_verify_detached(
                    sigRaw.bytes,
                    message.bytes, UInt64(message.count),
                    pkRaw.bytes)
            }
        }
        if status != 0 { throw .invalidSignature }
    }
}
