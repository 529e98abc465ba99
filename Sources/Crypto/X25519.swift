import CSodium
import Wire

/// X25519 Diffie-Hellman (libsodium `crypto_scalarmult`), for the Noise handshake.
public enum X25519 {
    public struct PublicKey: Equatable, Sendable {
        public var bytes: FixedBytes<32>
        public init(bytes: FixedBytes<32>) { self.bytes = bytes }
    }

    public struct SecretKey: Sendable {
        public var bytes: FixedBytes<32>
        public init(bytes: FixedBytes<32>) { self.bytes = bytes }
        public mutating func wipe() { bytes.wipe() }

        public var publicKey: PublicKey {
            var pk = FixedBytes<32>()
            pk.withUnsafeMutableBytes { pkRaw in
                bytes.withUnsafeBytes { skRaw in
                    _ = crypto_scalarmult_base(
                        pkRaw.bytes,
                        skRaw.bytes)
                }
            }
            return PublicKey(bytes: pk)
        }

        public static func generate<R: RandomSource>(using rng: inout R) -> SecretKey {
            SecretKey(bytes: rng.bytes())
        }
    }

    /// The shared secret; throws `.weakPublicKey` when the result is all zero (a low-order peer key).
    public static func sharedSecret(_ secretKey: SecretKey, _ publicKey: PublicKey) throws(CryptoError) -> SymmetricKey {
        var out = FixedBytes<32>()
        let status = out.withUnsafeMutableBytes { outRaw in
            secretKey.bytes.withUnsafeBytes { skRaw in
                publicKey.bytes.withUnsafeBytes { pkRaw in
                    crypto_scalarmult(
                        outRaw.bytes,
                        skRaw.bytes,
                        pkRaw.bytes)
                }
            }
        }
        if status != 0 {
            out.wipe()
            throw .weakPublicKey
        }
        return SymmetricKey(bytes: out)
    }
}
