import Crypto
import Pairing
import Transport
import Wire

/// The initiator's DHT record (DESIGN §2): who it is and where to dial it, sealed with the code's advert key so
/// that DHT nodes (and anyone reading the DHT) learn only that a session with this public id exists.
///
///     sealed    = nonce[12] ‖ ChaCha20-Poly1305(advert_key, nonce, plaintext, aad = record key ‖ sequence (8, BE))
///     plaintext = version (2) ‖ expires (8, BE, Unix seconds by the initiator's clock) ‖ peer id (38 bytes)
///                 ‖ DeviceInfo (pairing encoding)
///                 ‖ address count (1, ≤ 8) ‖ per address: length (1) ‖ binary multiaddr (/ip4|ip6/…/tcp/…, or a relay
///                   circuit /ip4|ip6/…/tcp/…/p2p/<relay>/p2p-circuit)
///
/// The record key and the record's sequence number are bound as associated data, so a sealed value copied under
/// another session's key, or into another version of the record, does not open. Opening checks everything a
/// hostile DHT node could forge with a stolen key too: lengths, the address forms, the identity. `expires` is
/// the window's end; the reader compares it with its own clock under the rule in `Rendezvous`.
public struct Advertisement {
    public var peer: PeerID
    public var device: DeviceInfo
    public var addresses: [Multiaddr]
    /// When the window closes, Unix seconds by the initiator's clock (which may be wrong: see `Rendezvous`).
    public var expires: UInt64

    public init(peer: PeerID, device: DeviceInfo, addresses: [Multiaddr], expires: UInt64) {
        self.peer = peer
        self.device = device
        self.addresses = addresses
        self.expires = expires
    }

    /// The addresses a board's record lists, in the order a joiner elsewhere should try them: the public ones (a
    /// port mapping, or the address DHT peers report), then its relay's circuit, then its own (`own`: each
    /// listener's, LAN addresses first; a wildcard that no interface address replaced is left out), at most
    /// `maxAddresses`.
    public static func listing(public: [Multiaddr], circuit: Multiaddr?, own: [Multiaddr]) -> [Multiaddr] {
        var out = `public`
        if let circuit { out.append(circuit) }
        for a in own where !a.host.isUnspecified { out.append(a) }
        return Array(out.prefix(maxAddresses))
    }

    /// 2: `expires` and the sequence in the associated data (1 had neither).
    public static let version: UInt8 = 2
    /// Addresses per advertisement: a board has a few interfaces, each with an IPv4 and an IPv6 address.
    public static let maxAddresses = 8
    /// Sealed size limit: 38 + ~300 (DeviceInfo) + 8 × 20 + overhead stays below; DHT nodes keep records small.
    public static let maxSealedLength = 640
    static let nonceLength = 12

    /// Seals into `out`; returns the sealed length, or nil when it does not fit.
    public func seal<R: RandomSource>(key: SymmetricKey, aad: UnsafeRawBufferPointer, random: inout R, into out: UnsafeMutableRawBufferPointer) -> Int? {
        var plain = FixedBytes<640>()
        let plainLength = plain.withUnsafeMutableBytes { raw in encodePlain(into: raw) }
        defer { plain.withUnsafeMutableBytes { Sodium.wipe($0) } }
        guard let plainLength, out.count >= Self.nonceLength + plainLength + ChaChaPoly.tagLength else { return nil }
        let nonce: ChaChaPoly.Nonce = random.bytes()
        nonce.withUnsafeBytes { out.copyMemory(from: $0) }
        var key = key
        defer { key.wipe() }
        let sealed = plain.withUnsafeBytes { p in
            Self.sealHelper(
                key: key, nonce: nonce, aad: aad, plain: UnsafeRawBufferPointer(rebasing: p[0..<plainLength]),
                out: UnsafeMutableRawBufferPointer(rebasing: out[Self.nonceLength..<(Self.nonceLength + plainLength + ChaChaPoly.tagLength)]))
        }
        return sealed ? Self.nonceLength + plainLength + ChaChaPoly.tagLength : nil
    }

    static func sealHelper(key: SymmetricKey, nonce: ChaChaPoly.Nonce, aad: UnsafeRawBufferPointer, plain: UnsafeRawBufferPointer, out: UnsafeMutableRawBufferPointer) -> Bool {
        do { try ChaChaPoly.seal(key: key, nonce: nonce, associatedData: aad, plaintext: plain, into: out) } catch { return false }
        return true
    }

    func encodePlain(into raw: UnsafeMutableRawBufferPointer) -> Int? {
        var w = ByteWriter(raw)
        do {
            try w.write(Self.version)
            for k in stride(from: 56, through: 0, by: -8) { try w.write(UInt8(truncatingIfNeeded: expires >> UInt64(k))) }
            try peer.bytes.withUnsafeBytes { (b) throws(WireError) in try w.write(b) }
            try MessageCodec.encodeDeviceInfo(device, into: &w)
            let count = min(addresses.count, Self.maxAddresses)
            try w.write(UInt8(count))
            for a in addresses.prefix(count) {
                var bare = a
                bare.peer = nil
                var one = FixedBytes<64>()  // a relay circuit (the peer part dropped): 50 bytes
                let n = one.withUnsafeMutableBytes { Self.encodeAddress(bare, into: $0) }
                try w.write(UInt8(n))
                try one.withUnsafeBytes { (b) throws(WireError) in try w.write(UnsafeRawBufferPointer(rebasing: b[0..<n])) }
            }
        } catch { return nil }
        return w.count
    }

    // Named, not a closure: a typed do/catch in a closure is inferred as `any Error` (not in Embedded Swift).
    static func encodeAddress(_ a: Multiaddr, into out: UnsafeMutableRawBufferPointer) -> Int {
        var w = ByteWriter(out)
        do { try a.encode(into: &w) } catch { return 0 }
        return w.count
    }

    /// Opens a sealed value found under `recordKey`. Typed errors: a DHT node may hand us anything.
    public static func open(_ sealed: UnsafeRawBufferPointer, key: SymmetricKey, aad: UnsafeRawBufferPointer) throws(AdvertisementError) -> Advertisement {
        guard sealed.count <= maxSealedLength else { throw .oversized }
        guard sealed.count > nonceLength + ChaChaPoly.tagLength else { throw .truncated }
        var nonce = ChaChaPoly.Nonce()
        for i in 0..<nonceLength { nonce[i] = sealed[i] }
        let plainLength = sealed.count - nonceLength - ChaChaPoly.tagLength
        var plain = FixedBytes<640>()
        defer { plain.withUnsafeMutableBytes { Sodium.wipe($0) } }
        let opened = plain.withUnsafeMutableBytes { p in
            openHelper(
                key: key, nonce: nonce, aad: aad,
                sealed: UnsafeRawBufferPointer(rebasing: sealed[nonceLength...]), out: UnsafeMutableRawBufferPointer(rebasing: p[0..<plainLength]))
        }
        guard opened else { throw .wrongKey }
        let parsed = plain.withUnsafeBytes { p in decodePlain(UnsafeRawBufferPointer(rebasing: p[0..<plainLength])) }
        switch parsed {
        case .success(let ad): return ad
        case .failure(let e): throw e
        }
    }

    static func openHelper(key: SymmetricKey, nonce: ChaChaPoly.Nonce, aad: UnsafeRawBufferPointer, sealed: UnsafeRawBufferPointer, out: UnsafeMutableRawBufferPointer) -> Bool {
        do { try ChaChaPoly.open(key: key, nonce: nonce, associatedData: aad, ciphertext: sealed, into: out) } catch { return false }
        return true
    }

    static func decodePlain(_ bytes: UnsafeRawBufferPointer) -> Result<Advertisement, AdvertisementError> {
        var r = ByteReader(bytes)
        do {
            guard try r.readByte() == version else { return .failure(.unknownVersion) }
            var expires: UInt64 = 0
            for _ in 0..<8 { expires = expires << 8 | UInt64(try r.readByte()) }
            let peer: PeerID
            let idBytes = try r.readSlice(PeerID.byteLength)
            do { peer = try PeerID(bytes: idBytes) } catch { return .failure(.malformed) }
            let device: DeviceInfo
            let used: Int
            do { (device, used) = try MessageCodec.decodeDeviceInfo(UnsafeRawBufferPointer(rebasing: bytes[r.offset...])) } catch {
                return .failure(.malformed)
            }
            _ = try r.readSlice(used)
            let count = Int(try r.readByte())
            guard count <= maxAddresses else { return .failure(.malformed) }
            var addresses: [Multiaddr] = []
            for _ in 0..<count {
                let n = Int(try r.readByte())
                let raw = try r.readSlice(n)
                do { addresses.append(try Multiaddr(binary: raw)) } catch { return .failure(.malformed) }
            }
            guard r.isAtEnd else { return .failure(.malformed) }
            return .success(Advertisement(peer: peer, device: device, addresses: addresses, expires: expires))
        } catch {
            return .failure(.malformed)
        }
    }
}

public enum AdvertisementError: Error, Equatable {
    case oversized
    case truncated
    /// Not sealed with this code's advert key (or sealed under another record key), or tampered with.
    case wrongKey
    case unknownVersion
    case malformed
    /// Its window ended longer ago than any allowed clock error explains (`Rendezvous.clockTolerance`).
    case expired

    public var text: String {
        switch self {
        case .oversized: "oversized record"
        case .truncated: "truncated record"
        case .wrongKey: "record does not open with this code (wrong key or tampered)"
        case .unknownVersion: "unknown advertisement version"
        case .malformed: "malformed advertisement"
        case .expired: "record from a window that has ended"
        }
    }
}
