import CSupport
import EventLoop
import Wire
import Pairing

/// Shows the code where a person looks, besides the log line:
/// - `--display <path>`: laid out for a small character display or a console (`Layout`), written when a window opens
///   and cleared when it closes (a regular file is replaced by a new 0600 file: it holds a live code; links, FIFOs and
///   directories other users can write are refused, see `refusal`). The LCD layouts count the seconds down and page
///   the 12 words, so they are rewritten once a second while the window is open (`refresh`).
/// - `--display-cmd <command>`: a hook for LCD or e-ink drivers, run by `/bin/sh -c` with SD_PAIR_ACTION=show|clear,
///   SD_PAIR_CODE (the code as shown: the 12 words or the dashed digits, empty on clear), SD_PAIR_CODE_DIGITS (a short
///   code's 12 digits without dashes, else empty), SD_PAIR_CODE_MODE (words or short) and SD_PAIR_EXPIRES_IN
///   (seconds) in its environment; not waited for by the agent (a forked watcher reports a failure in one log line,
///   see sd_spawn_shell).
/// A display that fails is reported, never fatal: the log line still carries the code.
public final class CodeDisplay {
    /// `--display-format`: how the code is laid out in the `--display` file.
    public enum Layout: Sendable {
        /// 4 lines of 3 words (a short code: one line); written once.
        case words
        /// 16×2 characters: the short code on line 1 and the seconds left on line 2; the 12 words three per screen as
        /// their first four letters (all the parser needs), with "words 1-3" and the seconds on line 2.
        case lcd16x2
        /// 20×4 characters: the short code on line 2, the seconds on line 4; the 12 words six per screen, two per line.
        case lcd20x4

        public init?(name: String) {
            if name.isExactly("words") { self = .words } else if name.isExactly("lcd16x2") { self = .lcd16x2 } else if name.isExactly("lcd20x4") {
                self = .lcd20x4
            } else {
                return nil
            }
        }
    }

    public let path: String?
    public let command: String?
    public let layout: Layout
    private let log: (String) -> Void
    /// Whether a code is up, so that clearing is done once whichever way the window ended.
    private var showing = false
    /// The code on an LCD layout, kept (fixed storage, wiped on clear) to redraw it each second.
    private var code = CodeWords()
    private var shownAt: UInt64 = 0
    private var expiresIn: UInt32 = 0
    private var drawnSecond: UInt64 = 0

    public init?(path: String?, command: String?, layout: Layout = .words, log: @escaping (String) -> Void) {
        guard path != nil || command != nil else { return nil }
        self.path = path
        self.command = command
        self.layout = layout
        self.log = log
    }

    /// Shows the words; every buffer that holds them here is fixed and wiped (security review finding 11).
    public func show(_ words: CodeWords, expiresIn seconds: UInt32) {
        showing = true
        if path != nil {
            code = words
            expiresIn = seconds
            shownAt = MonotonicClock.milliseconds()
            drawnSecond = 0
            draw(elapsed: 0)
            if layout == .words { code.wipe() }
        }
        run(action: "show", words: words, expiresIn: seconds)
    }

    /// Called by the agent's loop (at least once a second): an LCD layout redraws when the second changes.
    public func refresh(now: UInt64) {
        guard showing, layout != .words, code.count > 0, now >= shownAt else { return }
        let elapsed = (now - shownAt) / 1000
        guard elapsed != drawnSecond else { return }
        drawnSecond = elapsed
        draw(elapsed: elapsed)
    }

    private func draw(elapsed: UInt64) {
        var text = SecretLine()
        let left = UInt64(expiresIn) > elapsed ? UInt64(expiresIn) - elapsed : 0
        Self.lay(out: code, layout, secondsLeft: left, page: Int(elapsed / Self.pageSeconds), into: &text)
        text.withUnsafeBytes { write($0) }
        text.wipe()
    }

    /// How long one screen of words stays up on an LCD layout.
    static let pageSeconds: UInt64 = 5

    /// The text of one screen.
    static func lay(out code: CodeWords, _ layout: Layout, secondsLeft: UInt64, page: Int, into text: inout SecretLine) {
        let short = code.isShort
        if short || layout == .words {
            if layout == .lcd20x4 { text.append("pairing code:\n") }
            // Words: every third space becomes a line break (4 lines of 3); a short code is one line.
            var spaces = 0
            code.withUnsafeBytes { raw in
                for b in raw {
                    if b == UInt8(ascii: " ") { spaces += 1 }
                    text.append(byte: b != UInt8(ascii: " ") ? b : spaces % 3 == 0 ? UInt8(ascii: "\n") : b)
                }
            }
            text.append(layout == .lcd20x4 ? "\n\n" : "\n")
            guard layout != .words else { return }
            text.append(number: secondsLeft)
            text.append(" s left\n")
            return
        }
        // The 12 words, paged: three per 16×2 screen (first four letters each, all the parser needs), six per 20×4
        // screen (two whole words per line).
        let perScreen = layout == .lcd16x2 ? 3 : 6
        let first = (page % (12 / perScreen)) * perScreen
        code.withUnsafeBytes { raw in
            for k in first..<(first + perScreen) {
                let w = word(raw, k)
                text.append(perScreen == 3 ? UnsafeRawBufferPointer(rebasing: w[0..<min(4, w.count)]) : w)
                text.append(byte: perScreen == 3 ? (k == first + 2 ? UInt8(ascii: "\n") : UInt8(ascii: " ")) : k % 2 == 0 ? UInt8(ascii: " ") : UInt8(ascii: "\n"))
            }
        }
        text.append("words ")
        text.append(number: UInt64(first + 1))
        text.append(byte: UInt8(ascii: "-"))
        text.append(number: UInt64(first + perScreen))
        text.append(perScreen == 3 ? " " : "  ")
        text.append(number: secondsLeft)
        text.append(perScreen == 3 ? "s\n" : " s\n")
    }

    /// Word `k` (from 0) of single-space separated words; empty past the last.
    static func word(_ code: UnsafeRawBufferPointer, _ k: Int) -> UnsafeRawBufferPointer {
        var start = 0
        var index = 0
        for i in 0...code.count where i == code.count || code[i] == UInt8(ascii: " ") {
            if index == k { return UnsafeRawBufferPointer(rebasing: code[start..<i]) }
            index += 1
            start = i + 1
        }
        return UnsafeRawBufferPointer(rebasing: code[0..<0])
    }

    /// At start: whatever a crashed or killed agent left on the display goes, before any window.
    public func clearLeftovers() {
        showing = true
        clear()
    }

    public func clear() {
        guard showing else { return }
        showing = false
        code.wipe()
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
        // The digits without dashes, so that a driver of a 7-segment panel needs no parsing.
        let short = words.isShort
        var digits = SecretLine()
        defer { digits.wipe() }
        digits.append("SD_PAIR_CODE_DIGITS=")
        if short { digits.appendDigits(of: words) }
        let mode: StaticString = words.count == 0 ? "SD_PAIR_CODE_MODE=" : short ? "SD_PAIR_CODE_MODE=short" : "SD_PAIR_CODE_MODE=words"
        let pid = ("SD_PAIR_ACTION=" + action).withCString { a in
            code.withCString { c in
                digits.withCString { d in
                    ("SD_PAIR_EXPIRES_IN=" + String(seconds)).withCString { e in
                        command.withCString { cmd in
                            var extra: (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) =
                                (a, c, d, UnsafeRawPointer(mode.utf8Start).assumingMemoryBound(to: CChar.self), e, nil)
                            return withUnsafePointer(to: &extra) { tuple in
                                tuple.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: 6) { sd_spawn_shell(cmd, $0) }
                            }
                        }
                    }
                }
            }
        }
        if pid < 0 { log("cannot run the display command (errno " + String(-pid) + ")") }
    }
}
