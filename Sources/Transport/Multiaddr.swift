import Wire

/// A dialable TCP multiaddr: /ip4/<a.b.c.d>/tcp/<port>[/p2p/<id>] or /ip6/<addr>/tcp/<port>[/p2p/<id>], in text
/// and in the binary form Kademlia messages carry (varint protocol code ‖ value). With `relay`, a circuit relay v2
/// address: /ip4|ip6/…/tcp/…/p2p/<relay>/p2p-circuit[/p2p/<id>] — dial the relay there, then reach `peer` through it.
public struct Multiaddr: Equatable, Sendable {
    public enum Host: Equatable, Sendable {
        case ip4(FixedBytes<4>)
        case ip6(FixedBytes<16>)
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case malformed
        /// A protocol we do not dial (dns, udp, quic, websocket, circuit…); the address is skipped, not fatal.
        case unsupportedProtocol(UInt64)
        case badPeerID
    }

    static let codeIP4: UInt64 = 0x04
    static let codeTCP: UInt64 = 0x06
    static let codeIP6: UInt64 = 0x29
    static let codeP2P: UInt64 = 0x01A5
    static let codeCircuit: UInt64 = 0x0122
    /// Longest text we parse: enough for an IPv6 address, a port and a peer id, with room to spare.
    public static let maxTextLength = 256

    public var host: Host
    public var port: UInt16
    public var peer: PeerID?
    /// The relay that `host` and `port` lead to, for a circuit address (nil: a direct address).
    public var relay: PeerID? = nil

    public init(host: Host, port: UInt16, peer: PeerID? = nil) {
        self.host = host
        self.port = port
        self.peer = peer
    }

    // MARK: Text

    public init(text: String) throws(Error) {
        guard text.utf8.count <= Self.maxTextLength, text.startsWithExactly("/") else { throw .malformed }
        let parts = text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map { String(Substring($0)) }
        // "" / proto / value / "tcp" / port [/ "p2p" / id [/ "p2p-circuit" [/ "p2p" / id]]]
        guard parts.count == 5 || parts.count == 7 || parts.count == 8 || parts.count == 10, parts[0].isEmpty else { throw .malformed }
        if parts[1].isExactly("ip4") {
            guard let bytes = Self.parseIPv4(parts[2]) else { throw .malformed }
            host = .ip4(bytes)
        } else if parts[1].isExactly("ip6") {
            guard let bytes = Self.parseIPv6(parts[2]) else { throw .malformed }
            host = .ip6(bytes)
        } else {
            throw .unsupportedProtocol(0)
        }
        guard parts[3].isExactly("tcp"), let p = Self.parsePort(parts[4]) else { throw .malformed }
        port = p
        peer = nil
        if parts.count >= 7 {
            guard parts[5].isExactly("p2p") else { throw .malformed }
            do { peer = try PeerID(text: parts[6]) } catch { throw .badPeerID }
        }
        if parts.count >= 8 {
            guard parts[7].isExactly("p2p-circuit") else { throw .malformed }
            relay = peer
            peer = nil
        }
        if parts.count == 10 {
            guard parts[8].isExactly("p2p") else { throw .malformed }
            do { peer = try PeerID(text: parts[9]) } catch { throw .badPeerID }
        }
    }

    public var hostText: String {
        switch host {
        case .ip4(let b): return String(b[0]) + "." + String(b[1]) + "." + String(b[2]) + "." + String(b[3])
        case .ip6(let b): return Self.formatIPv6(b)
        }
    }

    public var text: String {
        let proto: String
        switch host {
        case .ip4: proto = "/ip4/"
        case .ip6: proto = "/ip6/"
        }
        var out = proto + hostText + "/tcp/" + String(port)
        if let relay { out += "/p2p/" + relay.text + "/p2p-circuit" }
        if let peer { out += "/p2p/" + peer.text }
        return out
    }

    // MARK: Binary

    public func encode(into writer: inout ByteWriter) throws(WireError) {
        switch host {
        case .ip4(let b):
            try writer.writeUvarint(Self.codeIP4)
            try writer.write(b)
        case .ip6(let b):
            try writer.writeUvarint(Self.codeIP6)
            try writer.write(b)
        }
        try writer.writeUvarint(Self.codeTCP)
        try writer.writeUInt16BigEndian(port)
        if let relay {
            try Self.encode(relay, into: &writer)
            try writer.writeUvarint(Self.codeCircuit)
        }
        if let peer { try Self.encode(peer, into: &writer) }
    }

    static func encode(_ peer: PeerID, into writer: inout ByteWriter) throws(WireError) {
        try writer.writeUvarint(Self.codeP2P)
        try writer.writeUvarint(UInt64(PeerID.byteLength))
        try writer.write(peer.bytes)
    }

    public init(binary: UnsafeRawBufferPointer) throws(Error) {
        var reader = ByteReader(binary)
        let code = try Self.varint(&reader)
        switch code {
        case Self.codeIP4: host = .ip4(try Self.fixed(&reader))
        case Self.codeIP6: host = .ip6(try Self.fixed(&reader))
        default: throw .unsupportedProtocol(code)
        }
        let next = try Self.varint(&reader)
        guard next == Self.codeTCP else { throw .unsupportedProtocol(next) }
        do { port = try reader.readUInt16BigEndian() } catch { throw .malformed }
        peer = nil
        if !reader.isAtEnd { peer = try Self.peer(&reader) }
        if !reader.isAtEnd {
            let next = try Self.varint(&reader)
            guard next == Self.codeCircuit, peer != nil else { throw next == Self.codeCircuit ? .malformed : .unsupportedProtocol(next) }
            relay = peer
            peer = reader.isAtEnd ? nil : try Self.peer(&reader)
        }
        guard reader.isAtEnd else { throw .malformed }
    }

    /// A /p2p/<id> component.
    private static func peer(_ reader: inout ByteReader) throws(Error) -> PeerID {
        guard try Self.varint(&reader) == Self.codeP2P else { throw .malformed }
        let length = try Self.varint(&reader)
        guard length <= 64 else { throw .badPeerID }
        let id: UnsafeRawBufferPointer
        do { id = try reader.readSlice(Int(length)) } catch { throw .malformed }
        do { return try PeerID(bytes: id) } catch { throw .badPeerID }
    }

    private static func varint(_ reader: inout ByteReader) throws(Error) -> UInt64 {
        do { return try reader.readUvarint() } catch { throw .malformed }
    }

    private static func fixed<let n: Int>(_ reader: inout ByteReader) throws(Error) -> FixedBytes<n> {
        do { return try reader.readFixed() } catch { throw .malformed }
    }

    // MARK: Addresses

    /// 0–65535 in decimal, 1–5 digits (a byte loop: the generic integer parser costs the board build a KiB).
    static func parsePort(_ text: String) -> UInt16? {
        var value: UInt32 = 0
        var digits = 0
        for c in text.utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9"), digits < 5 else { return nil }
            value = value * 10 + UInt32(c - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 && value <= 65535 ? UInt16(value) : nil
    }

    static func parseIPv4(_ text: String) -> FixedBytes<4>? {
        var out = FixedBytes<4>()
        var index = 0
        var value = 0
        var digits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0, index < 3 else { return nil }
                out[index] = UInt8(value)
                index += 1
                value = 0
                digits = 0
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                value = value * 10 + Int(c - UInt8(ascii: "0"))
                digits += 1
                guard value <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard index == 3, digits > 0 else { return nil }
        out[3] = UInt8(value)
        return out
    }

    /// RFC 4291 text: eight groups of up to four hex digits, one "::" for a run of zero groups. No zone, no
    /// embedded IPv4 (multiaddrs carry neither).
    static func parseIPv6(_ text: String) -> FixedBytes<16>? {
        var groups = InlineArray<8, UInt16>(repeating: 0)
        var count = 0
        var gap: Int? = nil
        var value: UInt32 = 0
        var digits = 0
        var previousColon = false
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 39 else { return nil }
        var i = 0
        if bytes[0] == UInt8(ascii: ":") {
            guard bytes[1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            i = 2
            previousColon = true
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: ":") {
                if previousColon {
                    guard gap == nil else { return nil }
                    gap = count
                } else {
                    guard digits > 0, count < 8 else { return nil }
                    groups[count] = UInt16(value)
                    count += 1
                    value = 0
                    digits = 0
                }
                previousColon = true
            } else {
                guard let v = Hex.nibble(c), digits < 4 else { return nil }
                value = value << 4 | UInt32(v)
                digits += 1
                previousColon = false
            }
            i += 1
        }
        if digits > 0 {
            guard count < 8 else { return nil }
            groups[count] = UInt16(value)
            count += 1
        } else if !(previousColon && gap == count) {
            return nil
        }
        var full = InlineArray<8, UInt16>(repeating: 0)
        if let gap {
            guard count < 8 else { return nil }
            for k in 0..<gap { full[k] = groups[k] }
            let tail = count - gap
            for k in 0..<tail { full[8 - tail + k] = groups[gap + k] }
        } else {
            guard count == 8 else { return nil }
            full = groups
        }
        var out = FixedBytes<16>()
        for k in 0..<8 {
            out[2 * k] = UInt8(full[k] >> 8)
            out[2 * k + 1] = UInt8(full[k] & 0xFF)
        }
        return out
    }

    /// Lowercase, leading zeros dropped, the longest run (≥ 2) of zero groups as "::" (RFC 5952).
    static func formatIPv6(_ b: FixedBytes<16>) -> String {
        var groups = InlineArray<8, UInt16>(repeating: 0)
        for k in 0..<8 { groups[k] = UInt16(b[2 * k]) << 8 | UInt16(b[2 * k + 1]) }
        var bestStart = -1
        var bestLength = 1
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var end = k
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - k > bestLength {
                    bestStart = k
                    bestLength = end - k
                }
                k = end
            } else {
                k += 1
            }
        }
        var out = ""
        k = 0
        while k < 8 {
            if k == bestStart {
                out += "::"
                k += bestLength
                continue
            }
            if !out.isEmpty && out.utf8.last != UInt8(ascii: ":") { out += ":" }
            out += Hex.group(groups[k])
            k += 1
        }
        return out
    }
}

extension Multiaddr.Host {
    /// 0.0.0.0 or ::, a wildcard listener's address: every address of the host, and none to dial.
    public var isUnspecified: Bool {
        switch self {
        case .ip4(let b): return b == FixedBytes<4>()
        case .ip6(let b): return b == FixedBytes<16>()
        }
    }
}
