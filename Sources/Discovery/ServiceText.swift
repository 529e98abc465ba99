import Pairing
import Transport
import Wire

/// What a `_sd-pair._tcp` service says in its TXT record: `sid=<32 lowercase hex>` (the public session id),
/// `p2p=<base58 peer id>` (the identity Noise must authenticate) and up to four `ip=<address>` (every address of the
/// device on the service's port: Avahi resolves a service to one address per protocol, which may be an alias
/// nobody can reach). Anyone on the LAN can publish anything, so the parser takes each TXT string as untrusted
/// bytes and refuses, with a typed error, whatever is not exactly that; an `ip` entry it cannot read is skipped.
public struct ServiceText: Equatable {
    public var sessionID: SessionID
    public var peer: PeerID
    public var hosts: [Multiaddr.Host]

    public init(sessionID: SessionID, peer: PeerID, hosts: [Multiaddr.Host] = []) {
        self.sessionID = sessionID
        self.peer = peer
        self.hosts = Array(hosts.prefix(Self.maxHosts))
    }

    public static let maxHosts = 4

    /// A DNS TXT string holds at most 255 bytes; ours are 36 and ≤ 56.
    public static let maxEntryLength = 255
    /// We publish two entries; a record with many more is not ours (and would only cost us time).
    public static let maxEntries = 16

    /// The entries to publish.
    public var entries: [String] {
        var out = ["sid=" + sessionID.hex, "p2p=" + peer.text]
        for h in hosts { out.append("ip=" + Multiaddr(host: h, port: 0).hostText) }
        return out
    }

    /// Accumulates TXT strings one at a time (Avahi hands them over as a linked list).
    public struct Parser {
        private var sid: SessionID? = nil
        private var peer: PeerID? = nil
        private var hosts: [Multiaddr.Host] = []
        private var count = 0

        public init() {}

        public mutating func add(_ entry: UnsafeRawBufferPointer) throws(ServiceTextError) {
            count += 1
            guard count <= ServiceText.maxEntries else { throw .tooManyEntries }
            guard entry.count <= ServiceText.maxEntryLength else { throw .oversizedEntry }
            if Self.hasKey(entry, "sid=") {
                guard sid == nil else { throw .duplicateKey }
                sid = try Self.sessionID(UnsafeRawBufferPointer(rebasing: entry[4...]))
            } else if Self.hasKey(entry, "p2p=") {
                guard peer == nil else { throw .duplicateKey }
                peer = try Self.peerID(UnsafeRawBufferPointer(rebasing: entry[4...]))
            } else if Self.hasKey(entry, "ip="), hosts.count < ServiceText.maxHosts, let host = Self.host(UnsafeRawBufferPointer(rebasing: entry[3...])) {
                hosts.append(host)
            }
            // Other keys are allowed and ignored: a later version may add some.
        }

        public func finish() throws(ServiceTextError) -> ServiceText {
            guard let sid else { throw .missingSessionID }
            guard let peer else { throw .missingPeerID }
            return ServiceText(sessionID: sid, peer: peer, hosts: hosts)
        }

        /// An IPv4 or IPv6 address in text (at most 45 bytes), read by the multiaddr parser.
        static func host(_ text: UnsafeRawBufferPointer) -> Multiaddr.Host? {
            guard text.count > 0, text.count <= 45 else { return nil }
            let address = String(decoding: text, as: UTF8.self)
            let six = text.contains(UInt8(ascii: ":"))
            return (try? Multiaddr(text: (six ? "/ip6/" : "/ip4/") + address + "/tcp/1"))?.host
        }

        static func hasKey(_ entry: UnsafeRawBufferPointer, _ key: StaticString) -> Bool {
            let n = key.utf8CodeUnitCount
            guard entry.count >= n else { return false }
            for i in 0..<n where entry[i] != key.utf8Start[i] { return false }
            return true
        }

        static func sessionID(_ hex: UnsafeRawBufferPointer) throws(ServiceTextError) -> SessionID {
            guard hex.count == 32 else { throw .badSessionID }
            var bytes = FixedBytes<16>()
            for i in 0..<16 {
                guard let hi = Hex.nibble(hex[2 * i]), let lo = Hex.nibble(hex[2 * i + 1]) else { throw .badSessionID }
                bytes[i] = hi << 4 | lo
            }
            return SessionID(bytes: bytes)
        }

        // A named function, not a closure: a typed do/catch inside a closure is inferred as `any Error`.
        static func peerID(bytes: UnsafeRawBufferPointer) -> PeerID? {
            do { return try PeerID(bytes: bytes) } catch { return nil }
        }

        static func peerID(_ text: UnsafeRawBufferPointer) throws(ServiceTextError) -> PeerID {
            // An Ed25519 peer id is 38 bytes, 52–53 base58 characters; anything longer is not one.
            guard text.count > 0, text.count <= 64 else { throw .badPeerID }
            var buffer = FixedBytes<64>()
            let length = buffer.withUnsafeMutableBytes { Base58.decode(text, into: $0) }
            guard let length else { throw .badPeerID }
            let parsed = buffer.withUnsafeBytes { raw in peerID(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<length])) }
            guard let parsed else { throw .badPeerID }
            return parsed
        }
    }
}

public enum ServiceTextError: Error, Equatable {
    case tooManyEntries
    case oversizedEntry
    case duplicateKey
    case missingSessionID
    case badSessionID
    case missingPeerID
    case badPeerID

    public var text: String {
        switch self {
        case .tooManyEntries: "too many TXT entries"
        case .oversizedEntry: "oversized TXT entry"
        case .duplicateKey: "duplicate sid or p2p entry"
        case .missingSessionID: "no sid entry"
        case .badSessionID: "sid is not 32 hex digits"
        case .missingPeerID: "no p2p entry"
        case .badPeerID: "p2p is not an Ed25519 peer id"
        }
    }
}
