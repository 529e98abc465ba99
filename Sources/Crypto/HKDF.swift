import Wire

/// HKDF-SHA256 (RFC 5869) built on HMAC-SHA256, because Debian 12's libsodium 1.0.18 predates its HKDF API.
/// Verified against the RFC's test vectors in CryptoTests.
public enum HKDF {
    /// RFC 5869 limits the output to 255 hash lengths.
    public static let maxOutputLength = 255 * 32

    /// HKDF-Extract: PRK = HMAC(salt, IKM). An empty salt means 32 zero bytes, as the RFC says.
    public static func extract(salt: UnsafeRawBufferPointer, ikm: UnsafeRawBufferPointer) -> SymmetricKey {
        var zeroSalt = FixedBytes<32>()
        let tag: HMACSHA256.Tag
        if salt.count == 0 {
            tag = zeroSalt.withUnsafeBytes { HMACSHA256.authenticate(key: $0, message: ikm) }
        } else {
            tag = HMACSHA256.authenticate(key: salt, message: ikm)
        }
        zeroSalt.wipe()
        return SymmetricKey(bytes: tag)
    }

    /// HKDF-Expand: fills `output` (1 to 8160 bytes) with T(1) ‖ T(2) ‖ … where
    /// T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i).
    public static func expand(
        prk: SymmetricKey, info: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        guard output.count <= maxOutputLength else { throw .outputTooLong }
        var previous = FixedBytes<32>()
        var produced = 0
        var counter: UInt8 = 1
        while produced < output.count {
            var mac = HMACSHA256(key: prk)
            if counter > 1 { mac.update(previous) }
            mac.update(info)
            withUnsafeBytes(of: counter) { mac.update($0) }
            previous = mac.finalize()
            let take = min(32, output.count - produced)
            for i in 0..<take { output[produced + i] = previous[i] }
            produced += take
            counter &+= 1
        }
        previous.wipe()
    }

    /// Expands into a 32-byte key, with a static label as `info`.
    public static func expandKey(prk: SymmetricKey, label: StaticString) -> SymmetricKey {
        var out = FixedBytes<32>()
        out.withUnsafeMutableBytes { raw in
            // 32 bytes is always within the RFC limit, so this cannot throw.
            try? expand(prk: prk, info: UnsafeRawBufferPointer(start: label.utf8Start, count: label.utf8CodeUnitCount), into: raw)
        }
        return SymmetricKey(bytes: out)
    }
}
