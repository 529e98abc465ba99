import CSupport
import Wire

/// The command line as a cursor over its words. Our own parser: swift-argument-parser cannot build as Embedded Swift.
struct Arguments {
    private(set) var words: [String]
    private var position = 0

    init(_ words: [String]) { self.words = words }

    /// The process's arguments without the program name.
    static func fromProcess() -> Arguments {
        var words: [String] = []
        let count = Int(sd_argc())
        if count > 1 {
            for i in 1..<count {
                if let arg = sd_arg(Int32(i)) { words.append(String(cString: arg)) }
            }
        }
        return Arguments(words)
    }

    var isAtEnd: Bool { position >= words.count }

    /// Takes all words not yet read.
    mutating func takeRemaining() -> [String] {
        defer { position = words.count }
        return position < words.count ? Array(words[position...]) : []
    }

    mutating func next() -> String? {
        guard position < words.count else { return nil }
        defer { position += 1 }
        return words[position]
    }

    /// The value of an option that takes one (`--name value` or `--name=value`).
    mutating func value(for option: String, inline: String?) -> Result<String, UsageError> {
        if let inline { return .success(inline) }
        guard let value = next() else { return .failure(UsageError(option + " needs a value")) }
        return .success(value)
    }

    /// Splits `--name=value` into its parts.
    static func split(_ word: String) -> (name: String, inline: String?) {
        guard word.startsWithExactly("--"), let eq = word.utf8.firstIndex(of: UInt8(ascii: "=")) else { return (word, nil) }
        let name = String(word[..<eq])
        let value = String(word[word.utf8.index(after: eq)...])
        return (name, value)
    }
}

/// A command-line mistake, reported as one line and exit code 2.
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
