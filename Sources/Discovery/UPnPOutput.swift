import Wire

/// Reads what miniupnpc's `upnpc -a <ip> <port> <port> TCP <lease>` prints, as it arrives, line by line. UPnP IGD
/// is SSDP, HTTP and SOAP, and Debian's client library blocks in discovery and in every call; `upnpc` (the same
/// library's own client) does all of it in a short-lived child process whose output the poll loop reads, so a slow
/// or silent router never stalls the loop, and the board carries no HTTP or XML code. The lines that matter:
///
///     ExternalIPAddress = 51.20.0.2
///     external 51.20.0.2:4001 TCP is redirected to internal 192.168.10.2:4001 (duration=360)
///     Found a (not connected?) IGD : …          (the router has no usable public address)
///
/// Lines are at most 160 bytes here; longer ones are cut (none of the lines we read is long).
public struct UPnPOutput {
    public private(set) var externalAddress: FixedBytes<4>? = nil
    public private(set) var externalPort: UInt16 = 0
    /// The router answered but has no public address it can map to.
    public private(set) var notConnected = false
    var line = FixedBytes<160>()
    var length = 0

    public init() {}

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes {
            if b == 0x0A {
                take()
                length = 0
            } else if length < 160 {
                line[length] = b
                length += 1
            }
        }
    }

    /// The child closed its output: a last line without a newline still counts.
    public mutating func finish() {
        if length > 0 { take() }
        length = 0
    }

    mutating func take() {
        line.withUnsafeBytes { raw in
            let text = UnsafeRawBufferPointer(rebasing: raw[0..<length])
            if Self.starts(text, "ExternalIPAddress = ") {
                externalAddress = Self.ipv4(UnsafeRawBufferPointer(rebasing: text[20...]))
            } else if Self.starts(text, "external "), let colon = text.firstIndex(of: 0x3A), let space = text[colon...].firstIndex(of: 0x20),
                Self.contains(text, "is redirected") {
                if let address = Self.ipv4(UnsafeRawBufferPointer(rebasing: text[9..<colon])) { externalAddress = address }
                externalPort = Self.port(UnsafeRawBufferPointer(rebasing: text[(colon + 1)..<space]))
            } else if Self.contains(text, "not connected") {
                notConnected = true
            }
        }
    }

    static func starts(_ text: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        text.count >= prefix.utf8CodeUnitCount && UnsafeRawBufferPointer(rebasing: text[0..<prefix.utf8CodeUnitCount]).isExactly(prefix)
    }

    static func contains(_ text: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard text.count >= n else { return false }
        for i in 0...(text.count - n) where UnsafeRawBufferPointer(rebasing: text[i..<(i + n)]).isExactly(needle) { return true }
        return false
    }

    /// A dotted quad, nothing else (trailing blanks allowed).
    static func ipv4(_ text: UnsafeRawBufferPointer) -> FixedBytes<4>? {
        var out = FixedBytes<4>()
        var part = 0, value = 0, digits = 0
        for c in text {
            if c >= 0x30 && c <= 0x39 {
                value = value * 10 + Int(c - 0x30)
                digits += 1
                guard value <= 255, digits <= 3 else { return nil }
            } else if c == 0x2E, digits > 0, part < 3 {
                out[part] = UInt8(value)
                part += 1
                value = 0
                digits = 0
            } else if c == 0x20 || c == 0x0D {
                break
            } else {
                return nil
            }
        }
        guard part == 3, digits > 0 else { return nil }
        out[3] = UInt8(value)
        return out
    }

    static func port(_ text: UnsafeRawBufferPointer) -> UInt16 {
        var value = 0
        for c in text {
            guard c >= 0x30, c <= 0x39, value <= 6553 else { return 0 }
            value = value * 10 + Int(c - 0x30)
        }
        return value <= 65535 ? UInt16(value) : 0
    }
}
