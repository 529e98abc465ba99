import Crypto
import Wire

/// Why a Noise operation failed. Every case ends the connection.
public enum NoiseError: Error, Equatable, Sendable {
    /// A handshake message had the wrong size or arrived out of turn.
    case malformedMessage
    /// AEAD authentication failed: tampered, replayed or mis-keyed data.
    case decryptFailed
    /// The peer's handshake payload was not a valid libp2p payload.
    case invalidPayload
    /// The payload's identity key is not Ed25519 (the only key type we accept).
    case unsupportedIdentityKey
    /// The identity signature over the Noise static key did not verify.
    case invalidIdentitySignature
    /// X25519 produced zero: a low-order key.
    case weakKey
    /// 2^64 - 1 messages on one key: the connection must end (never reached in practice).
    case nonceExhausted
    /// A caller buffer is too small.
    case bufferTooSmall
}

/// Noise's CipherState: ChaChaPoly with a 64-bit counter nonce (4 zero bytes ‖ counter little-endian).
struct NoiseCipher {
    var key: SymmetricKey? = nil
    var nonce: UInt64 = 0

    var hasKey: Bool { key != nil }

    mutating func encrypt(ad: UnsafeRawBufferPointer, _ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        guard let key else { throw .malformedMessage }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        guard out.count == plaintext.count + ChaChaPoly.tagLength else { throw .bufferTooSmall }
        do { try ChaChaPoly.seal(key: key, nonce: Self.nonceBytes(nonce), associatedData: ad, plaintext: plaintext, into: out) } catch {
            throw .bufferTooSmall
        }
        nonce += 1
    }

    mutating func decrypt(ad: UnsafeRawBufferPointer, _ ciphertext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        guard let key else { throw .malformedMessage }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        guard ciphertext.count >= ChaChaPoly.tagLength, out.count == ciphertext.count - ChaChaPoly.tagLength else { throw .malformedMessage }
        do { try ChaChaPoly.open(key: key, nonce: Self.nonceBytes(nonce), associatedData: ad, ciphertext: ciphertext, into: out) } catch {
            throw .decryptFailed
        }
        nonce += 1
    }

    static func nonceBytes(_ n: UInt64) -> ChaChaPoly.Nonce {
        var nonce = ChaChaPoly.Nonce()
        for i in 0..<8 { nonce[4 + i] = UInt8(truncatingIfNeeded: n >> UInt64(8 * i)) }
        return nonce
    }

    mutating func wipe() {
        key?.wipe()
        key = nil
    }
}

/// Noise's SymmetricState (chaining key, handshake hash, cipher) for Noise_XX_25519_ChaChaPoly_SHA256.
struct NoiseSymmetricState {
    /// Exactly 32 bytes, so it is used as the initial hash as it is (Noise §5.2).
    static let protocolName: StaticString = "Noise_XX_25519_ChaChaPoly_SHA256"

    var chainingKey: SymmetricKey
    var hash: FixedBytes<32>
    var cipher = NoiseCipher()

    init() {
        var h = FixedBytes<32>()
        let name = Self.protocolName
        for i in 0..<32 { h[i] = name.utf8Start[i] }
        hash = h
        chainingKey = SymmetricKey(bytes: h)
    }

    mutating func mixHash(_ data: UnsafeRawBufferPointer) {
        var sha = SHA256()
        hash.withUnsafeBytes { sha.update($0) }
        sha.update(data)
        hash = sha.finalize()
    }

    /// Noise's HKDF with two outputs.
    static func hkdf2(_ chainingKey: SymmetricKey, _ ikm: UnsafeRawBufferPointer) -> (SymmetricKey, SymmetricKey) {
        var temp = SymmetricKey(bytes: HMACSHA256(key: chainingKey).finalizing(ikm))
        defer { temp.wipe() }
        var one: UInt8 = 1
        let first = withUnsafeBytes(of: &one) { HMACSHA256(key: temp).finalizing($0) }
        var mac = HMACSHA256(key: temp)
        mac.update(first)
        var two: UInt8 = 2
        withUnsafeBytes(of: &two) { mac.update($0) }
        return (SymmetricKey(bytes: first), SymmetricKey(bytes: mac.finalize()))
    }

    mutating func mixKey(_ ikm: SymmetricKey) {
        let (ck, k) = ikm.withUnsafeBytes { Self.hkdf2(chainingKey, $0) }
        chainingKey.wipe()
        chainingKey = ck
        cipher.wipe()
        cipher = NoiseCipher(key: k, nonce: 0)
    }

    /// Encrypts (or, before the first key, copies) and mixes the result into the hash. Returns the bytes written.
    mutating func encryptAndHash(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        let length = plaintext.count + (cipher.hasKey ? ChaChaPoly.tagLength : 0)
        guard out.count >= length else { throw .bufferTooSmall }
        let target = UnsafeMutableRawBufferPointer(rebasing: out[0..<length])
        if cipher.hasKey {
            try hash.withUnsafeBytes { (h) throws(NoiseError) in try cipher.encrypt(ad: h, plaintext, into: target) }
        } else if plaintext.count > 0 {
            target.baseAddress!.copyMemory(from: plaintext.baseAddress!, byteCount: plaintext.count)
        }
        mixHash(UnsafeRawBufferPointer(target))
        return length
    }

    mutating func decryptAndHash(_ ciphertext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int {
        let length = ciphertext.count - (cipher.hasKey ? ChaChaPoly.tagLength : 0)
        guard length >= 0 else { throw .malformedMessage }
        guard out.count >= length else { throw .bufferTooSmall }
        let target = UnsafeMutableRawBufferPointer(rebasing: out[0..<length])
        if cipher.hasKey {
            try hash.withUnsafeBytes { (h) throws(NoiseError) in try cipher.decrypt(ad: h, ciphertext, into: target) }
        } else if length > 0 {
            target.baseAddress!.copyMemory(from: ciphertext.baseAddress!, byteCount: length)
        }
        mixHash(ciphertext)
        return length
    }

    /// The two transport keys: (initiator → responder, responder → initiator).
    func split() -> (SymmetricKey, SymmetricKey) {
        Self.hkdf2(chainingKey, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    mutating func wipe() {
        chainingKey.wipe()
        cipher.wipe()
    }
}

extension HMACSHA256 {
    /// Updates with `data` and finalises: one-field MACs.
    consuming func finalizing(_ data: UnsafeRawBufferPointer) -> Tag {
        update(data)
        return finalize()
    }
}
