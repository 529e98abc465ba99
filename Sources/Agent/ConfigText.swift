import Transport
import Wire

/// The text of the configuration file (`/etc/sd-pair.conf`), sans-IO: `key = value` lines, `#` comments, blank
/// lines. It knows every key and what each accepts, and says which line is wrong and why; the command line tool
/// reads the file and turns the entries into options. A person writes this file: any bytes must give an entry list
/// or one problem with its line, never a trap.
public enum ConfigText {
    public enum Kind: Sendable {
        case text
        case number(ClosedRange<Int>)
        case choice([StaticString])
        case address
        case flag
    }

    /// Every option of the agent's commands, by its key (the option's name without "--").
    public static let keys: [(name: StaticString, option: StaticString, kind: Kind)] = [
        ("listen", "--listen", .address), ("state-dir", "--state-dir", .text), ("name", "--name", .text),
        ("device-type", "--device-type", .choice(["desktop", "laptop", "mobile", "server", "other"])),
        ("expiry", "--expiry", .number(60...600)), ("max-attempts", "--max-attempts", .number(1...100)),
        ("handshake-timeout", "--handshake-timeout", .number(1...120)), ("display", "--display", .text), ("display-cmd", "--display-cmd", .text),
        ("events", "--events", .choice(["json"])), ("window-at-start", "--window-at-start", .choice(["auto", "always", "never"])),
        ("no-mdns", "--no-mdns", .flag), ("no-dht", "--no-dht", .flag), ("no-port-mapping", "--no-port-mapping", .flag), ("qr", "--qr", .flag),
        ("dht-bootstrap", "--dht-bootstrap", .address), ("dht-protocol", "--dht-protocol", .text),
        ("dht-records", "--dht-records", .choice(["ipns", "sd-pair"])), ("code", "--code", .choice(["words", "short"])),
        ("relay", "--relay", .address),
        ("display-format", "--display-format", .choice(["words", "lcd16x2", "lcd20x4"])),
    ]

    /// A config file is a few dozen lines; anything larger is a mistake, refused rather than read.
    public static let maxLength = 64 * 1024

    /// One setting: its line (from 1), its index in `keys`, its value with surrounding blanks removed.
    public struct Entry: Equatable {
        public let line: Int
        public let key: Int
        public let value: String
    }

    /// What is wrong, and on which line (from 1).
    public struct Problem: Error, Equatable {
        public let line: Int
        public let message: String
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<[Entry], Problem> {
        guard bytes.count <= maxLength else { return .failure(Problem(line: 1, message: "larger than 64 KiB")) }
        var entries: [Entry] = []
        var lineNumber = 0
        var start = 0
        while start <= bytes.count {
            lineNumber += 1
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = trimmed(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            start = end + 1
            if line.isEmpty || line[0] == UInt8(ascii: "#") { continue }
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else {
                return .failure(Problem(line: lineNumber, message: "expected key = value"))
            }
            let keyBytes = trimmed(UnsafeRawBufferPointer(rebasing: line[..<eq]))
            let value = String(decoding: unquoted(trimmed(UnsafeRawBufferPointer(rebasing: line[(eq + 1)...]))), as: UTF8.self)
            guard let index = keys.firstIndex(where: { matches(keyBytes, $0.name) }) else {
                return .failure(Problem(line: lineNumber, message: "unknown key '" + printable(keyBytes) + "'"))
            }
            if let problem = check(value, keys[index].kind) {
                return .failure(Problem(line: lineNumber, message: text(keys[index].name) + ": " + problem))
            }
            entries.append(Entry(line: lineNumber, key: index, value: value))
        }
        return .success(entries)
    }

    /// Why `value` does not suit `kind`, or nil.
    public static func check(_ value: String, _ kind: Kind) -> String? {
        switch kind {
        case .text:
            return value.isEmpty ? "needs a value" : nil
        case .number(let range):
            guard let n = Int(value), range.contains(n) else { return "must be a number from " + String(range.lowerBound) + " to " + String(range.upperBound) }
            return nil
        case .choice(let options):
            guard !options.contains(where: { value.isExactly($0) }) else { return nil }
            var list = ""
            for (i, option) in options.enumerated() { list += (i == 0 ? "" : ", ") + text(option) }
            return "must be one of " + list
        case .address:
            do {
                _ = try Multiaddr(text: value)
                return nil
            } catch { return "must be a multiaddr like /ip4/0.0.0.0/tcp/4001" }
        case .flag:
            return value.isExactly("true") || value.isExactly("false") ? nil : "must be true or false"
        }
    }

    /// `name = "Living-room NAS"` means the name without its quotes (people write settings files that way).
    static func unquoted(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard bytes.count >= 2, bytes[0] == 0x22, bytes[bytes.count - 1] == 0x22 else { return bytes }
        return UnsafeRawBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
    }

    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        func blank(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 13 }
        var start = 0
        var end = bytes.count
        while start < end && blank(bytes[start]) { start += 1 }
        while end > start && blank(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    static func matches(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        bytes.elementsEqual(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    public static func text(_ s: StaticString) -> String {
        String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
    }

    /// A key from the file, shown in a message: at most 64 bytes, control bytes as '?' (no terminal escapes).
    static func printable(_ bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        for b in bytes.prefix(64) { out.append(b < 0x20 || b == 0x7F ? UInt8(ascii: "?") : b) }
        return String(decoding: out, as: UTF8.self)
    }
}
