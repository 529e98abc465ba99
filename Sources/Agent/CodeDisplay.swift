import CSupport
import Pairing

/// Shows the code where a person looks, besides the log line:
/// - `--display <path>`: laid out for a small character display or console, 4 lines of 3 words, written when a window
///   opens and cleared when it closes (a regular file is replaced by a new 0600 file: it holds a live code; links,
///   FIFOs and directories other users can write are refused, see `refusal`);
/// - `--display-cmd <command>`: a hook for LCD or e-ink drivers, run by `/bin/sh -c` with SD_PAIR_ACTION=show|clear,
///   SD_PAIR_CODE (the 12 words, empty on clear) and SD_PAIR_EXPIRES_IN (seconds) in its environment; not waited for
///   by the agent (a forked watcher reports a failure in one log line, see sd_spawn_shell).
/// A display that fails is reported, never fatal: the log line still carries the code.
public final class CodeDisplay {
    public let path: String?
    public let command: String?
    private let log: (String) -> Void
    /// Whether a code is up, so that clearing is done once whichever way the window ended.
    private var showing = false

    public init?(path: String?, command: String?, log: @escaping (String) -> Void) {
        guard path != nil || command != nil else { return nil }
        self.path = path
        self.command = command
        self.log = log
    }

    /// Shows the words; every buffer that holds them here is fixed and wiped (security review finding 11).
    public func show(_ words: CodeWords, expiresIn seconds: UInt32) {
        showing = true
        if path != nil {
            // `layout`, in fixed storage: every third space becomes a line break.
            var text = SecretLine()
            var spaces = 0
            words.withUnsafeBytes { raw in
                for b in raw {
                    if b == UInt8(ascii: " ") {
                        spaces += 1
                        text.append(spaces % 3 == 0 ? "\n" : " ")
                    } else {
                        withUnsafeBytes(of: b) { text.append($0) }
                    }
                }
            }
            text.append("\n")
            text.withUnsafeBytes { write($0) }
            text.wipe()
        }
        run(action: "show", words: words, expiresIn: seconds)
    }

    /// At start: whatever a crashed or killed agent left on the display goes, before any window.
    public func clearLeftovers() {
        showing = true
        clear()
    }

    public func clear() {
        guard showing else { return }
        showing = false
        if path != nil { write(UnsafeRawBufferPointer(start: nil, count: 0)) }
        run(action: "clear", words: CodeWords(), expiresIn: 0)
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        guard let path else { return }
        let rc = path.withCString { sd_show_on_display($0, bytes.baseAddress, bytes.count) }
        if rc < 0 { log("cannot write the display: " + Self.problem(path, rc)) }
    }

    /// Why `path` cannot take the code, in words, or nil when it can (checked at start so that a bad path is
    /// refused before any window opens).
    public static func refusal(_ path: String) -> String? {
        let rc = path.withCString { sd_display_check($0) }
        return rc < 0 ? problem(path, rc) : nil
    }

    static func problem(_ path: String, _ rc: Int32) -> String {
        switch -rc {
        case ELOOP: path + " is a symbolic link; give the real path (a link could send the code anywhere)"
        case EFTYPE_DISPLAY: path + " is neither a regular file nor a character device (a FIFO or socket could block the agent or leak the code)"
        case EPERM: "the directory of " + path + " is writable by other users or owned by another user; put the display file in a directory only sd-pair's user can write"
        case ENOENT, ENOTDIR: "the directory of " + path + " does not exist"
        case EISDIR: path + " is a directory; give a file name"
        case EACCES: path + ": permission denied"
        default: path + " (errno " + String(-rc) + ")"
        }
    }

    private func run(action: String, words: CodeWords, expiresIn seconds: UInt32) {
        guard let command else { return }
        var code = SecretLine()
        defer { code.wipe() }
        code.append("SD_PAIR_CODE=")
        code.append(words)
        let pid = ("SD_PAIR_ACTION=" + action).withCString { a in
            code.withCString { c in
                ("SD_PAIR_EXPIRES_IN=" + String(seconds)).withCString { e in
                    command.withCString { cmd in
                        var extra: (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) = (a, c, e, nil)
                        return withUnsafePointer(to: &extra) { tuple in
                            tuple.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: 4) { sd_spawn_shell(cmd, $0) }
                        }
                    }
                }
            }
        }
        if pid < 0 { log("cannot run the display command (errno " + String(-pid) + ")") }
    }
}
