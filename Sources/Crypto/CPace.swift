import CSodium
import Wire

/// CPace on ristretto255 with SHA-512 (draft-irtf-cfrg-cpace, "CPace-RISTRETTO255-SHA512"), the building block of
/// the short-code mode (issue 19), initiator-responder setting. Everything from libsodium: hashing to the group
/// (`crypto_core_ristretto255_from_hash`), scalar multiplication with the identity check
/// (`crypto_scalarmult_ristretto255` fails on it), SHA-512.
///
///     generator  g   = from_hash(SHA-512(lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid)))
///     share      Y   = encode(y · g), y = 32 random bytes with the 4 top bits cleared
///     secret     K   = encode(y · decode(Y_peer)), refused if Y_peer does not decode or K is the identity
///     ISK            = SHA-512(lv_cat(DSI ‖ "_ISK", sid, K) ‖ lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb))
///
/// lv_cat prefixes each field with its length as LEB128. len_zpad fills the first 128-byte SHA-512 block after
/// DSI and PRS, so that hashing time does not depend on the password's length.
public enum CPace {
    public typealias Element = FixedBytes<32>
    public typealias Scalar = FixedBytes<32>
    public typealias Key = FixedBytes<64>

    static let dsi: StaticString = "CPaceRistretto255"
    static let dsiISK: StaticString = "CPaceRistretto255_ISK"
    /// SHA-512's input block size (H.s_in_bytes).
    static let blockSize = 128

    public enum Failure: Error, Equatable, Sendable {
        /// The peer's share is not a ristretto255 encoding, or the shared point is the identity: abort (the draft's
        /// MUST); this run gives no key, and no information about the password.
        case invalidShare
    }

    /// The generator for a password (PRS), channel identifier (CI) and session id, as a ristretto255 encoding.
    public static func generator(password: UnsafeRawBufferPointer, channel: UnsafeRawBufferPointer, session: UnsafeRawBufferPointer) -> Element {
        var h = SHA512()
        let dsiBytes = raw(dsi)
        h.updateWithLength(dsiBytes)
        h.updateWithLength(password)
        let zpad = max(0, blockSize - 1 - lengthPrefixSize(password.count) - password.count - lengthPrefixSize(dsiBytes.count) - dsiBytes.count)
        let zeros = FixedBytes<128>()  // zero_bytes(len_zpad): less than one block
        zeros.withUnsafeBytes { h.updateWithLength(UnsafeRawBufferPointer(rebasing: $0[0..<zpad])) }
        h.updateWithLength(channel)
        h.updateWithLength(session)
        var digest = h.finalize()
        defer { digest.wipe() }
        var g = Element()
        g.withUnsafeMutableBytes { out in
            digest.withUnsafeBytes { d in _ = crypto_core_ristretto255_from_hash(out.bytes, d.bytes) }
        }
        return g
    }

    /// A scalar from 32 random bytes, its 4 most significant bits cleared (the draft's recommended sampling).
    public static func scalar<R: RandomSource>(using random: inout R) -> Scalar {
        var y: Scalar = random.bytes()
        y[31] &= 0x0F
        return y
    }

    /// Our share Y = y · g.
    public static func share(_ y: Scalar, generator g: Element) -> Element {
        var out = Element()
        out.withUnsafeMutableBytes { o in
            y.withUnsafeBytes { s in g.withUnsafeBytes { p in _ = crypto_scalarmult_ristretto255(o.bytes, s.bytes, p.bytes) } }
        }
        return out
    }

    /// The intermediate session key, initiator-responder transcript: `a` is the initiator's share and data.
    public static func sessionKey(
        _ y: Scalar, peer: Element, session: UnsafeRawBufferPointer,
        initiator ya: Element, initiatorData ada: UnsafeRawBufferPointer, responder yb: Element, responderData adb: UnsafeRawBufferPointer
    ) throws(Failure) -> Key {
        var k = Element()
        defer { k.wipe() }
        let status = k.withUnsafeMutableBytes { o in
            y.withUnsafeBytes { s in peer.withUnsafeBytes { p in crypto_scalarmult_ristretto255(o.bytes, s.bytes, p.bytes) } }
        }
        // libsodium fails when the peer's share does not decode and when the product is the identity.
        guard status == 0 else { throw .invalidShare }
        var h = SHA512()
        h.updateWithLength(raw(dsiISK))
        h.updateWithLength(session)
        k.withUnsafeBytes { h.updateWithLength($0) }
        ya.withUnsafeBytes { h.updateWithLength($0) }
        h.updateWithLength(ada)
        yb.withUnsafeBytes { h.updateWithLength($0) }
        h.updateWithLength(adb)
        return h.finalize()
    }

    static func raw(_ s: StaticString) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount) }

    static func lengthPrefixSize(_ n: Int) -> Int {
        var size = 1
        var v = n >> 7
        while v > 0 {
            size += 1
            v >>= 7
        }
        return size
    }
}

/// SHA-512, streaming (libsodium), with CPace's LEB128 length prefixes.
struct SHA512 {
    private var state = crypto_hash_sha512_state()

    init() { crypto_hash_sha512_init(&state) }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        crypto_hash_sha512_update(&state, bytes.bytes, UInt64(bytes.count))
    }

    /// LEB128 of `n`.
    mutating func updateLength(_ n: Int) {
        var v = n
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v > 0 { b |= 0x80 }
            withUnsafeBytes(of: &b) { update($0) }
        } while v > 0
    }

    /// prepend_len(bytes).
    mutating func updateWithLength(_ bytes: UnsafeRawBufferPointer) {
        updateLength(bytes.count)
        update(bytes)
    }

    consuming func finalize() -> FixedBytes<64> {
        var out = FixedBytes<64>()
        out.withUnsafeMutableBytes { _ = crypto_hash_sha512_final(&state, $0.bytes) }
        return out
    }
}
