import Crypto
import Wire

/// One connection's CPace run in the short-code mode (Docs/PROTOCOL.md §10). The joiner is CPace's initiator (it
/// sends its share first), the device showing the code its responder. Bound to the connection:
/// - CI (channel identifier) = the Noise handshake hash of this libp2p connection, so a share cannot be replayed or
///   spliced into another connection (a relay or a man in the middle has a different hash on each side);
/// - sid = the window's session id; ADa = ADb = empty.
/// Its ISK replaces the code's entropy as the root of the two keys the 12-word mode derives from the code
/// (`confirmKey`, `codeSecret`), so the proofs, the signature binding and the session keys stay as they are.
struct PakeKeys: Sendable {
    var confirmKey: SymmetricKey
    var codeSecret: SymmetricKey

    init(confirmKey: SymmetricKey, codeSecret: SymmetricKey) {
        self.confirmKey = confirmKey
        self.codeSecret = codeSecret
    }

    /// HKDF-SHA256(salt "sd-pair/v1/short", ikm ISK), expanded with the 12-word mode's labels.
    @inline(never)
    init(isk: CPace.Key) {
        var prk = isk.withUnsafeBytes { HKDF.extract(salt: Labels.shortSalt.rawBytes, ikm: $0) }
        confirmKey = HKDF.expandKey(prk: prk, label: Labels.confirmKey)
        codeSecret = HKDF.expandKey(prk: prk, label: Labels.codeSecret)
        prk.wipe()
    }

    mutating func wipe() {
        confirmKey.wipe()
        codeSecret.wipe()
    }
}

enum ShortCodePake {
    /// Our scalar and share for this connection; the generator (which a password guess could be tested against) is
    /// wiped before returning.
    @inline(never)
    static func start<R: RandomSource>(password: FixedBytes<8>, handshakeHash: FixedBytes<32>, sessionID: SessionID, random: inout R)
        -> (scalar: CPace.Scalar, share: CPace.Element)
    {
        var g = password.withUnsafeBytes { pw in
            handshakeHash.withUnsafeBytes { ci in sessionID.bytes.withUnsafeBytes { sid in CPace.generator(password: pw, channel: ci, session: sid) } }
        }
        let y = CPace.scalar(using: &random)
        let share = CPace.share(y, generator: g)
        g.wipe()
        return (y, share)
    }

    /// The keys from our scalar and both shares; throws when the peer's share is not a valid element.
    @inline(never)
    static func finish(_ y: CPace.Scalar, peer: CPace.Element, joinerShare: CPace.Element, deviceShare: CPace.Element, sessionID: SessionID)
        throws(CPace.Failure) -> PakeKeys
    {
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        var isk = try sessionID.bytes.withUnsafeBytes { (sid) throws(CPace.Failure) in
            try CPace.sessionKey(y, peer: peer, session: sid, initiator: joinerShare, initiatorData: none, responder: deviceShare, responderData: none)
        }
        defer { isk.wipe() }
        return PakeKeys(isk: isk)
    }
}
