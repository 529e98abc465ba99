import CSupport
import Crypto
import Pairing
import Wire

/// One line that carries the code's words — the `CODE:` line, the log line, the control reply, the JSON `waiting`
/// event, the display's text, the hook's environment — built in fixed storage and wiped once written, so that no
/// copy of the words is left in freed heap memory when the window ends (security review finding 11).
public struct SecretLine {
    public static let capacity = 512

    private var storage = FixedBytes<512>()
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes where count < Self.capacity {
            storage[count] = b
            count += 1
        }
    }

    public mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func append(_ words: CodeWords) { words.withUnsafeBytes { append($0) } }

    public mutating func append(byte: UInt8) {
        guard count < Self.capacity else { return }
        storage[count] = byte
        count += 1
    }

    /// A decimal number, written without a String (the LCD layouts redraw every second).
    @inline(never)
    public mutating func append(number: UInt64) {
        var digits = FixedBytes<20>()
        var n = 0
        var v = number
        repeat {
            digits[n] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            n += 1
        } while v > 0
        while n > 0 {
            n -= 1
            append(byte: digits[n])
        }
    }

    /// A short code's digits without its dashes (what a 7-segment driver wants).
    public mutating func appendDigits(of code: CodeWords) {
        code.withUnsafeBytes { for b in $0 where b != UInt8(ascii: "-") { append(byte: b) } }
    }

    /// Text that is not secret (numbers, ids, names).
    public mutating func appendText(_ text: String) {
        var copy = text
        copy.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// The line as a NUL-terminated C string (for an environment entry, a C library).
    public mutating func withCString<R>(_ body: (UnsafePointer<CChar>) -> R) -> R {
        if count == Self.capacity { count -= 1 }
        storage[count] = 0
        return storage.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
    }

    /// Writes the whole line with one write(2), as `Output` does for other lines.
    public func write(fd: Int32) {
        withUnsafeBytes { _ = sd_write_all(fd, $0.baseAddress, $0.count) }
    }

    public mutating func wipe() {
        storage.wipe()
        count = 0
    }
}
