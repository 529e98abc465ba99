import Crypto
import Pairing
import Transport
import Wire

/// Which DHT record carries a window's sealed advertisement (`--dht-records`).
public enum RendezvousKind: Sendable {
    /// An IPNS record under a name derived from the code: what the public IPFS DHT stores (the default).
    case ipns
    /// `/sd-pair/<session id hex>` holding the sealed advertisement itself: only private DHTs accept it.
    case sdPair
}

/// A DHT record key, raw bytes (IPNS keys are binary; `/sd-pair/` keys are ASCII).
public struct RecordKey: Sendable {
    public private(set) var bytes = FixedBytes<64>()
    public private(set) var count = 0

    public init(sdPair session: SessionID) {
        let prefix: StaticString = "/sd-pair/"
        append(UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        for i in 0..<16 {
            bytes[count] = Hex.digit(session.bytes[i] >> 4)
            bytes[count + 1] = Hex.digit(session.bytes[i])
            count += 2
        }
    }

    public init(ipns publicKey: Ed25519.PublicKey) {
        let key = IPNSRecord.routingKey(publicKey)
        key.withUnsafeBytes { append($0) }
    }

    private mutating func append(_ raw: UnsafeRawBufferPointer) {
        for b in raw where count < 64 {
            bytes[count] = b
            count += 1
        }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

}

/// What the initiator writes to the DHT for one window and what the joiner accepts back (Docs/PROTOCOL.md §5).
///
/// The clock rule. A board without a real-time clock may run up to `clockTolerance` behind before NTP; the
/// joiner's clock may be off by as much either way. So the initiator sets the IPNS end of life to the window's
/// end plus the tolerance (DHT nodes, whose clocks are right, check it against theirs), and the joiner accepts a
/// record whose end of life, or whose sealed `expires`, is no further in its past than the tolerance (EOL) or
/// twice it (`expires`). A stale record this admits only names dial addresses: the name is fresh per code, and
/// the pairing proves the code before anything is trusted.
public enum Rendezvous {
    public static let clockTolerance: UInt64 = 48 * 3600
    /// IPNS TTL: a cache hint for resolvers; a window's record changes at most once, so one minute.
    static let ttlNanoseconds: UInt64 = 60 * 1_000_000_000

    /// The IPNS key pair of a code (from `CodeSecrets.ipnsSeed`). Wipe its secret when done.
    public static func ipnsKeys(seed: SymmetricKey) -> Ed25519.KeyPair { Ed25519.KeyPair(seed: seed.bytes) }

    /// The initiator's record for `advertisement`, written into `out`: for IPNS a signed record with the sealed
    /// advertisement in `_sdpair`; for `/sd-pair/` the sealed advertisement itself. Returns the length.
    public static func record<R: RandomSource>(
        _ kind: RendezvousKind, key: RecordKey, advertisement: Advertisement, advertKey: SymmetricKey,
        ipnsSeed: SymmetricKey, sequence: UInt64, random: inout R, into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var aad = FixedBytes<72>()
        let aadLength = associatedData(key, sequence, into: &aad)
        var sealed = FixedBytes<640>()
        defer { sealed.wipe() }
        let sealedLength = sealed.withUnsafeMutableBytes { s in
            aad.withUnsafeBytes { a in
                advertisement.seal(key: advertKey, aad: UnsafeRawBufferPointer(rebasing: a[0..<aadLength]), random: &random, into: s)
            }
        }
        guard let sealedLength else { return nil }
        switch kind {
        case .sdPair:
            guard out.count >= sealedLength else { return nil }
            sealed.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<sealedLength])) }
            return sealedLength
        case .ipns:
            var keys = ipnsKeys(seed: ipnsSeed)
            defer { keys.wipe() }
            return sealed.withUnsafeBytes { s in
                IPNSRecord.encode(
                    keys: keys, sequence: sequence, endOfLife: advertisement.expires &+ clockTolerance, ttlNanoseconds: ttlNanoseconds,
                    application: UnsafeRawBufferPointer(rebasing: s[0..<sealedLength]), into: out)
            }
        }
    }

    /// The joiner: opens a value found under `key`, with its own clock `now` (Unix seconds). Also returns the
    /// record's IPNS sequence (0 for `/sd-pair/` records), which a board raises when it publishes again.
    public static func open(
        _ kind: RendezvousKind, _ value: UnsafeRawBufferPointer, key: RecordKey, advertKey: SymmetricKey,
        ipnsPublicKey: Ed25519.PublicKey, now: UInt64
    ) throws(RendezvousError) -> (advertisement: Advertisement, sequence: UInt64) {
        var sealed = value
        var sequence: UInt64 = 0
        if kind == .ipns {
            let fields: IPNSRecord.Fields
            do { fields = try IPNSRecord.verify(value, publicKey: ipnsPublicKey) } catch { throw .ipns(error) }
            // Servers serve stored records without re-checking for up to 48 h: the end of life is ours to check.
            guard fields.endOfLife &+ clockTolerance >= now else { throw .advertisement(.expired) }
            // A valid IPNS record under our name without our field was not written by an sd-pair initiator.
            guard let application = fields.application else { throw .advertisement(.malformed) }
            sealed = application
            sequence = fields.sequence
        }
        var aad = FixedBytes<72>()
        let aadLength = associatedData(key, sequence, into: &aad)
        let ad: Advertisement
        do {
            ad = try aad.withUnsafeBytes { (a) throws(AdvertisementError) in
                try Advertisement.open(sealed, key: advertKey, aad: UnsafeRawBufferPointer(rebasing: a[0..<aadLength]))
            }
        } catch { throw .advertisement(error) }
        guard ad.expires &+ 2 * clockTolerance >= now else { throw .advertisement(.expired) }
        return (ad, sequence)
    }

    /// record key ‖ sequence (8 bytes, big-endian).
    static func associatedData(_ key: RecordKey, _ sequence: UInt64, into out: inout FixedBytes<72>) -> Int {
        let n = key.count
        key.withUnsafeBytes { k in for i in 0..<n { out[i] = k[i] } }
        for j in 0..<8 { out[n + j] = UInt8(truncatingIfNeeded: sequence >> UInt64(56 - 8 * j)) }
        return n + 8
    }
}

public enum RendezvousError: Error, Equatable {
    case ipns(IPNSError)
    case advertisement(AdvertisementError)

    public var text: String {
        switch self {
        case .ipns(let e): e.text
        case .advertisement(let e): e.text
        }
    }
}
