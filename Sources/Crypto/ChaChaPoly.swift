import CSodium
import Wire

/// ChaCha20-Poly1305 as in RFC 8439 (libsodium's `_ietf` variant): 96-bit nonce, 16-byte tag appended.
/// Callers own every buffer; nothing is allocated.
public enum ChaChaPoly {
    public typealias Nonce = FixedBytes<12>
    public static let tagLength = 16

    /// Encrypts `plaintext` into `output`, which must hold exactly `plaintext.count + 16` bytes. `output` may not
    /// overlap `plaintext` except by being the same address (libsodium allows in-place).
    public static func seal(
        key: SymmetricKey, nonce: Nonce, associatedData: UnsafeRawBufferPointer,
        plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        guard output.count == plaintext.count + tagLength else { throw .badLength }
        key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                    output.bytes, nil,
                    plaintext.bytes, UInt64(plaintext.count),
                    associatedData.bytes, UInt64(associatedData.count),
                    nil, n.bytes,
                    k.bytes)
            }
        }
    }

    /// Decrypts and authenticates `ciphertext` (which ends with the tag) into `output`
    /// (exactly `ciphertext.count - 16` bytes). On failure `output` is zeroed.
    public static func open(
        key: SymmetricKey, nonce: Nonce, associatedData: UnsafeRawBufferPointer,
        ciphertext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        guard ciphertext.count >= tagLength, output.count == ciphertext.count - tagLength else { throw .badLength }
        let status = key.withUnsafeBytes { k in
            nonce.withUnsafeBytes { n in
                crypto_aead_chacha20poly1305_ietf_decrypt(
                    output.bytes, nil, nil,
                    ciphertext.bytes, UInt64(ciphertext.count),
                    associatedData.bytes, UInt64(associatedData.count),
                    n.bytes,
                    k.bytes)
            }
        }
        if status != 0 {
            Sodium.wipe(output)
            throw .authenticationFailed
        }
    }
}
