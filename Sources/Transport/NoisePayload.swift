import Crypto
import Wire

/// libp2p's `NoiseHandshakePayload { bytes identity_key = 1; bytes identity_sig = 2; }`, where identity_key is
/// the serialized `PublicKey { KeyType Type = 1; bytes Data = 2; }` and identity_sig is the identity key's
/// signature over "noise-libp2p-static-key:" ‖ the Noise static public key.
public enum NoisePayload {
    /// What the identity key signs: "noise-libp2p-static-key:" (24 bytes) ‖ the Noise static public key.
    static func signedMessage(_ staticKey: X25519.PublicKey) -> FixedBytes<56> {
        var signed = FixedBytes<56>()
        for i in 0..<24 { signed[i] = NoiseHandshake.prefix.utf8Start[i] }
        for i in 0..<32 { signed[24 + i] = staticKey.bytes[i] }
        return signed
    }

    /// Writes our payload; returns its length, or nil if `out` is too small.
    static func encode(identity: Ed25519.KeyPair, staticKey: X25519.PublicKey, into out: UnsafeMutableRawBufferPointer) -> Int? {
        let signature = signedMessage(staticKey).withUnsafeBytes { Ed25519.sign($0, with: identity.secretKey) }
        var writer = ByteWriter(out)
        var key = FixedBytes<36>()
        key.withUnsafeMutableBytes { raw in _ = PublicKeyProtobuf.encode(identity.publicKey, into: raw) }
        do {
            try key.withUnsafeBytes { (raw) throws(WireError) in try writer.writeProtobufBytes(field: 1, raw) }
            try signature.bytes.withUnsafeBytes { (raw) throws(WireError) in try writer.writeProtobufBytes(field: 2, raw) }
        } catch {
            return nil
        }
        return writer.count
    }

    /// Checks a peer's payload against its Noise static key; returns the authenticated identity.
    public static func verify(_ payload: UnsafeRawBufferPointer, staticKey: X25519.PublicKey) throws(NoiseError) -> Ed25519.PublicKey {
        var reader = ProtobufReader(payload)
        var identityKey: UnsafeRawBufferPointer? = nil
        var identitySig: UnsafeRawBufferPointer? = nil
        while true {
            let field: ProtobufField?
            do { field = try reader.next() } catch { throw .invalidPayload }
            guard let field else { break }
            // Unknown fields (py-libp2p's field 3 data, field 4 extensions) are skipped, as protobuf requires.
            if case .bytes(let b) = field.value {
                if field.number == 1 { identityKey = b }
                if field.number == 2 { identitySig = b }
            }
        }
        guard let identityKey, let identitySig, identitySig.count == 64 else { throw .invalidPayload }
        let key = try PublicKeyProtobuf.decode(identityKey)
        guard let sigBytes = FixedBytes<64>(copying: identitySig) else { throw .invalidPayload }
        let valid = signedMessage(staticKey).withUnsafeBytes { Ed25519.isValidSignature(Ed25519.Signature(bytes: sigBytes), of: $0, by: key) }
        guard valid else { throw .invalidIdentitySignature }
        return key
    }
}

/// The libp2p `PublicKey` protobuf for Ed25519 keys: `08 01 12 20 <32 bytes>`.
public enum PublicKeyProtobuf {
    public static let encodedLength = 36

    @discardableResult
    public static func encode(_ key: Ed25519.PublicKey, into out: UnsafeMutableRawBufferPointer) -> Int {
        guard out.count >= encodedLength else { return 0 }
        out[0] = 0x08  // field 1, varint: KeyType
        out[1] = 0x01  // Ed25519
        out[2] = 0x12  // field 2, bytes: Data
        out[3] = 0x20  // 32
        for i in 0..<32 { out[4 + i] = key.bytes[i] }
        return encodedLength
    }

    /// Accepts any field order and unknown fields; refuses key types other than Ed25519.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(NoiseError) -> Ed25519.PublicKey {
        var reader = ProtobufReader(bytes)
        var type: UInt64? = nil
        var data: UnsafeRawBufferPointer? = nil
        while true {
            let field: ProtobufField?
            do { field = try reader.next() } catch { throw .invalidPayload }
            guard let field else { break }
            switch (field.number, field.value) {
            case (1, .varint(let v)): type = v
            case (2, .bytes(let b)): data = b
            default: break
            }
        }
        guard let type, let data else { throw .invalidPayload }
        guard type == 1 else { throw .unsupportedIdentityKey }
        guard let key = FixedBytes<32>(copying: data) else { throw .invalidPayload }
        return Ed25519.PublicKey(bytes: key)
    }
}
