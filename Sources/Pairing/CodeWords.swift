import Crypto
import Wire

/// The code's words as text ("w1 w2 … w12", single spaces), in fixed storage that the owner wipes when its window
/// ends. A heap `String` would not do: Swift frees its copies without clearing them, so the words would outlive the
/// window in the daemon's memory (security review finding 11). Everything that shows the code — the log line, the
/// display, the control reply, the JSON event — writes from here through fixed buffers.
public struct CodeWords: Sendable {
    /// 12 words of at most 8 letters and 11 spaces.
    public static let capacity = 112

    private var storage = FixedBytes<112>()
    public private(set) var count = 0

    public init() {}

    /// Words as received (the daemon's control reply to `invite`), cut to `capacity`.
    public init(_ text: UnsafeRawBufferPointer) { append(text) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes where count < Self.capacity {
            storage[count] = b
            count += 1
        }
    }

    /// Zeroes the words (sodium_memzero).
    public mutating func wipe() {
        storage.wipe()
        count = 0
    }

    /// A short code's text (`DDDS-SSSS-SSSC`: no space), not the 12 words.
    public var isShort: Bool {
        withUnsafeBytes { raw in
            for b in raw where b == UInt8(ascii: " ") { return false }
            return raw.count > 0
        }
    }

    /// A `String` copy, for a caller that hands the code on (the embedding API's state callback): the copy is the
    /// caller's to keep and cannot be wiped by us.
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}

extension PairingCode {
    /// The words in fixed storage (see `CodeWords`); wipe them when the window ends.
    public var spelled: CodeWords {
        if let short { return short.spelled }
        var out = CodeWords()
        var indices = wordIndices
        for i in 0..<Self.wordCount {
            if i > 0 { out.append(Self.space) }
            Wordlist.bytes(at: Int(indices[i])).withUnsafeBytes { out.append($0) }
        }
        for i in 0..<Self.wordCount { indices[i] = 0 }
        return out
    }

    static var space: UnsafeRawBufferPointer {
        let s: StaticString = " "
        return UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
}
