import CSodium
import CSupport
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
/// DSI and PRS, so that hashing time does not depend on the password's length. The two hashes are in C
/// (CSupport/cpace.c): a fifth of the board-build bytes of the same lines in Swift.
public enum CPace {
    public typealias Element = FixedBytes<32>
    public typealias Scalar = FixedBytes<32>
    public typealias Key = FixedBytes<64>

    public enum Failure: Error, Equatable, Sendable {
        /// The peer's share is not a ristretto255 encoding, or the shared point is the identity: abort (the draft's
        /// MUST); this run gives no key, and no information about the password.
        case invalidShare
    }

    /// The generator for a password (PRS), channel identifier (CI) and session id, as a ristretto255 encoding.
    public static func generator(password: UnsafeRawBufferPointer, channel: UnsafeRawBufferPointer, session: UnsafeRawBufferPointer) -> Element {
        var g = Element()
        g.withUnsafeMutableBytes { sd_cpace_generator($0.bytes, password.bytes, password.count, channel.bytes, channel.count, session.bytes, session.count) }
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
        var isk = Key()
        let status = isk.withUnsafeMutableBytes { o in
            y.withUnsafeBytes { s in
                peer.withUnsafeBytes { p in
                    ya.withUnsafeBytes { a in
                        yb.withUnsafeBytes { b in
                            sd_cpace_isk(o.bytes, s.bytes, p.bytes, session.bytes, session.count, a.bytes, ada.bytes, ada.count, b.bytes, adb.bytes, adb.count)
                        }
                    }
                }
            }
        }
        guard status == 0 else { throw .invalidShare }
        return isk
    }
}
