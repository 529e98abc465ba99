import Agent
import CSupport
import Wire

/// `/etc/sd-pair.conf` (or `--config <path>`): `key = value` lines, `#` comments. Every option of the agent's
/// commands has a key, its name without the leading "--"; switches take `true` or `false`. Command-line flags
/// override the file (for `listen`, any `--listen` replaces all of the file's). A wrong line is an error that
/// names the file and the line.
enum ConfigFile {
    static let defaultPath = "/etc/sd-pair.conf"
    static var maxLength: Int { ConfigText.maxLength }

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
        let entries: [ConfigText.Entry]
        switch buffer.withUnsafeBytes({ ConfigText.parse($0) }) {
        case .success(let e): entries = e
        case .failure(let problem): return .failure(UsageError(file + ":" + String(problem.line) + ": " + problem.message))
        }
        let commandLineListens = rest.contains { Arguments.split($0).name.isExactly("--listen") }
        var fromFile: [String] = []
        for entry in entries {
            let key = ConfigText.keys[entry.key]
            // Keys that do not apply to this command (e.g. window-at-start for join) are skipped.
            let accepted = valued.contains { Options.text($0).isExactly(key.option) } || switches.contains { Options.text($0).isExactly(key.option) }
            guard accepted else { continue }
            if Options.text(key.option).isExactly("--listen") && commandLineListens { continue }
            switch key.kind {
            case .flag: if entry.value.isExactly("true") { fromFile.append(Options.text(key.option)) }
            default: fromFile += [Options.text(key.option), entry.value]
            }
        }
        return .success(fromFile + rest)
    }
}
