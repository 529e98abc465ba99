import Crypto
import Wire

/// The 16-byte public name of a pairing session, derived from the code. Shown as a UUID.
public struct SessionID: Equatable, Sendable {
    public var bytes: FixedBytes<16>
    public init(bytes: FixedBytes<16>) { self.bytes = bytes }

    public var uuidString: String { Hex.uuidString(bytes) }
    public var hex: String { Hex.encode(bytes) }
    /// The DHT record key: "/sd-pair/" ‖ lowercase hex of the session id.
    public var dhtKey: String { "/sd-pair/" + hex }
}

/// Everything derived from a code's entropy E (Docs/PROTOCOL.md §2):
/// PRK = HKDF-Extract(salt "sd-pair/v1", E), then one HKDF-Expand per value with its own label.
public struct CodeSecrets: Sendable {
    /// Public: names the session in mDNS and the DHT.
    public let sessionID: SessionID
    /// Seals the DHT advertisement.
    public var advertKey: SymmetricKey
    /// The seed of the Ed25519 key that names and signs the window's IPNS record: only code holders can compute
    /// the name or write a record under it.
    public var ipnsSeed: SymmetricKey
    /// Keys the two proofs of code knowledge.
    public var confirmKey: SymmetricKey
    /// Input to the session keys.
    public var codeSecret: SymmetricKey
    /// The short code's eight secret digits (ASCII), CPace's password, when the code is short; then the four keys
    /// above are unused (zero) and each connection derives its own from the PAKE (ShortCodePake). Nothing public
    /// is derived from these digits: the session id comes from the three public ones.
    var password: FixedBytes<8>? = nil

    public var isShort: Bool { password != nil }

    public init(code: PairingCode) {
        if let short = code.short {
            // Salt "sd-pair/v1/short", input the three public digits: a short window's id can never equal a 12-word one.
            var prk = short.discriminator.withUnsafeBytes { ikm in HKDF.extract(salt: Labels.shortSalt.rawBytes, ikm: ikm) }
            sessionID = Self.sessionID(prk)
            prk.wipe()
            advertKey = SymmetricKey(bytes: FixedBytes())
            ipnsSeed = advertKey
            confirmKey = advertKey
            codeSecret = advertKey
            password = short.password
            return
        }
        var prk = code.entropy.withUnsafeBytes { ikm in HKDF.extract(salt: Labels.codeSalt.rawBytes, ikm: ikm) }
        defer { prk.wipe() }
        sessionID = Self.sessionID(prk)
        advertKey = HKDF.expandKey(prk: prk, label: Labels.advertKey)
        ipnsSeed = HKDF.expandKey(prk: prk, label: Labels.ipnsKey)
        confirmKey = HKDF.expandKey(prk: prk, label: Labels.confirmKey)
        codeSecret = HKDF.expandKey(prk: prk, label: Labels.codeSecret)
    }

    static func sessionID(_ prk: SymmetricKey) -> SessionID {
        var sid = FixedBytes<16>()
        sid.withUnsafeMutableBytes { raw in
            // 16 bytes is within HKDF's limit; cannot throw.
            try? HKDF.expand(prk: prk, info: Labels.sessionID.rawBytes, into: raw)
        }
        return SessionID(bytes: sid)
    }

    public mutating func wipe() {
        advertKey.wipe()
        ipnsSeed.wipe()
        confirmKey.wipe()
        codeSecret.wipe()
        password?.wipe()
    }
}
