import CSupport
import Transport
import Wire

/// `/etc/sd-pair.conf` (or `--config <path>`): `key = value` lines, `#` comments. Every option of the agent's
/// commands has a key, its name without the leading "--"; switches take `true` or `false`. Command-line flags
/// override the file (for `listen`, any `--listen` replaces all of the file's). A wrong line is an error that
/// names the file and the line.
enum ConfigFile {
    static let defaultPath = "/etc/sd-pair.conf"
    /// A config file is a few dozen lines; anything larger is a mistake, refused rather than read.
    static let maxLength = 64 * 1024

    enum Kind {
        case text
        case number(ClosedRange<Int>)
        case choice([StaticString])
        case address
        case flag
    }

    static let keys: [(name: StaticString, option: StaticString, kind: Kind)] = [
        ("listen", "--listen", .address), ("state-dir", "--state-dir", .text), ("name", "--name", .text),
        ("device-type", "--device-type", .choice(["desktop", "laptop", "mobile", "server", "other"])),
        ("expiry", "--expiry", .number(60...600)), ("max-attempts", "--max-attempts", .number(1...100)),
        ("handshake-timeout", "--handshake-timeout", .number(1...120)), ("display", "--display", .text), ("display-cmd", "--display-cmd", .text),
        ("events", "--events", .choice(["json"])), ("window-at-start", "--window-at-start", .choice(["auto", "always", "never"])),
        ("no-mdns", "--no-mdns", .flag), ("no-dht", "--no-dht", .flag), ("qr", "--qr", .flag),
        ("dht-bootstrap", "--dht-bootstrap", .address), ("dht-protocol", "--dht-protocol", .text),
    ]

    /// Removes `--config <path>` from `args` and returns the options the file contributes for a command that
    /// accepts `valued` and `switches`, ready to go in front of the command line's own.
    static func apply(_ words: [String], valued: [StaticString], switches: [StaticString], command: String) -> Result<[String], UsageError> {
        var rest: [String] = []
        var path: String? = nil
        var i = 0
        while i < words.count {
            let (name, inline) = Arguments.split(words[i])
            if name.isExactly("--config") {
                if let inline { path = inline } else if i + 1 < words.count { path = words[i + 1]; i += 1 } else {
                    return .failure(UsageError(command + ": --config needs a path"))
                }
            } else {
                rest.append(words[i])
            }
            i += 1
        }
        let explicit = path != nil
        let file = path ?? defaultPath
        // Uninitialised capacity: zero-filling 64 KiB would make every page of it resident for the daemon's
        // lifetime, though a config file is a few hundred bytes.
        var n = 0
        let buffer = [UInt8](unsafeUninitializedCapacity: maxLength + 1) { raw, count in
            n = file.withCString { sd_read_file($0, raw.baseAddress, raw.count) }
            count = max(n, 0)
        }
        if n == -Int(ENOENT) && !explicit { return .success(rest) }
        if n == -Int(EFBIG) { return .failure(UsageError(command + ": config file " + file + " is larger than 64 KiB")) }
        if n < 0 { return .failure(UsageError(command + ": cannot read config file " + file + " (errno " + String(-n) + ")")) }
        let text = String(decoding: buffer, as: UTF8.self)
        let commandLineListens = rest.contains { Arguments.split($0).name.isExactly("--listen") }
        var fromFile: [String] = []
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = trimmed(String(Substring(rawLine)))
            if line.isEmpty || line.startsWithExactly("#") { continue }
            let here = file + ":" + String(lineNumber) + ": "
            guard let eq = line.utf8.firstIndex(of: UInt8(ascii: "=")) else {
                return .failure(UsageError(here + "expected key = value"))
            }
            let key = trimmed(String(line[..<eq]))
            let value = trimmed(String(line[line.utf8.index(after: eq)...]))
            guard let entry = keys.first(where: { key.isExactly($0.name) }) else {
                return .failure(UsageError(here + "unknown key '" + key + "'"))
            }
            if let problem = check(value, entry.kind) { return .failure(UsageError(here + key + ": " + problem)) }
            // Keys that do not apply to this command (e.g. window-at-start for join) are skipped.
            let accepted = valued.contains { Options.text($0).isExactly(entry.option) } || switches.contains { Options.text($0).isExactly(entry.option) }
            guard accepted else { continue }
            if key.isExactly("listen") && commandLineListens { continue }
            switch entry.kind {
            case .flag: if value.isExactly("true") { fromFile.append(Options.text(entry.option)) }
            default: fromFile += [Options.text(entry.option), value]
            }
        }
        return .success(fromFile + rest)
    }

    static func check(_ value: String, _ kind: Kind) -> String? {
        switch kind {
        case .text:
            return value.isEmpty ? "needs a value" : nil
        case .number(let range):
            guard let n = Int(value), range.contains(n) else { return "must be a number from " + String(range.lowerBound) + " to " + String(range.upperBound) }
            return nil
        case .choice(let options):
            return options.contains { value.isExactly($0) } ? nil : "must be one of " + options.map { Options.text($0) }.joined(separator: ", ")
        case .address:
            do {
                _ = try Multiaddr(text: value)
                return nil
            } catch { return "must be a multiaddr like /ip4/0.0.0.0/tcp/4001" }
        case .flag:
            return value.isExactly("true") || value.isExactly("false") ? nil : "must be true or false"
        }
    }

    static func trimmed(_ s: String) -> String {
        let bytes = Array(s.utf8)
        var start = 0
        var end = bytes.count
        while start < end && (bytes[start] == 32 || bytes[start] == 9 || bytes[start] == 13) { start += 1 }
        while end > start && (bytes[end - 1] == 32 || bytes[end - 1] == 9 || bytes[end - 1] == 13) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
