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

    public init(code: PairingCode) {
        var prk = code.entropy.withUnsafeBytes { ikm in HKDF.extract(salt: Labels.codeSalt.rawBytes, ikm: ikm) }
        defer { prk.wipe() }
        var sid = FixedBytes<16>()
        sid.withUnsafeMutableBytes { raw in
            // 16 bytes is within HKDF's limit; cannot throw.
            try? HKDF.expand(prk: prk, info: Labels.sessionID.rawBytes, into: raw)
        }
        sessionID = SessionID(bytes: sid)
        advertKey = HKDF.expandKey(prk: prk, label: Labels.advertKey)
        ipnsSeed = HKDF.expandKey(prk: prk, label: Labels.ipnsKey)
        confirmKey = HKDF.expandKey(prk: prk, label: Labels.confirmKey)
        codeSecret = HKDF.expandKey(prk: prk, label: Labels.codeSecret)
    }

    public mutating func wipe() {
        advertKey.wipe()
        ipnsSeed.wipe()
        confirmKey.wipe()
        codeSecret.wipe()
    }
}
