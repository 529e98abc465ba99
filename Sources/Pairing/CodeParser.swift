import Wire

/// Why typed words are not a valid code. Positions are 1-based, as a person counts.
public enum CodeError: Error, Equatable, Sendable {
    /// Not exactly 12 words.
    case wrongWordCount(found: Int)
    /// The word at `position` is not in the list (nor a unique prefix of a word).
    case unknownWord(position: Int, typed: FixedText<24>, suggestions: WordSuggestions)
    /// All words exist but the checksum fails: some word is wrong or words are out of order. `fixes` are
    /// single-word substitutions close to what was typed that make the checksum pass (best first); the 4-bit
    /// checksum lets about 1 in 16 random substitutions pass, so they are hints, not certainties.
    case checksumMismatch(fixes: CodeFixes)

    /// One line for a person.
    public var message: String {
        switch self {
        case .wrongWordCount(let found):
            return "a pairing code has 12 words, this one has " + String(found)
        case .unknownWord(let position, let typed, let suggestions):
            var line = "word " + String(position) + " '" + typed.string + "' is not a BIP39 word"
            if suggestions.count > 0 { line += "; did you mean " + Self.orList(suggestions.words) + "?" }
            return line
        case .checksumMismatch(let fixes):
            guard fixes.count > 0 else {
                return "the words do not form a valid code (checksum mismatch): check each word and their order"
            }
            var line = "the words do not form a valid code (checksum mismatch); perhaps "
            for i in 0..<fixes.count {
                if i > 0 { line += i == fixes.count - 1 ? " or " : ", " }
                let fix = fixes[i]
                line += "word " + String(fix.position) + " '" + fix.typed.string + "' should be '"
                    + Wordlist.word(at: fix.replacement) + "'"
            }
            return line + "?"
        }
    }

    static func orList(_ words: [String]) -> String {
        var out = ""
        for (i, w) in words.enumerated() {
            if i > 0 { out += i == words.count - 1 ? " or " : ", " }
            out += "'" + w + "'"
        }
        return out
    }
}

/// A suggested correction: replace word `position` (1-based) with wordlist entry `replacement`.
public struct CodeFix: Equatable, Sendable {
    public var position: Int
    public var typed: FixedText<24>
    public var replacement: Int
}

/// Up to three fixes, best first.
public typealias CodeFixes = Ranked<CodeFix>

extension Ranked where Element == CodeFix {
    init() { self.init(filler: CodeFix(position: 0, typed: FixedText(), replacement: 0)) }
}

extension PairingCode {
    /// Longest token kept for matching and error messages; longer tokens cannot be words.
    static let maxTokenLength = 24

    /// Parses what a person typed: any case, any run of whitespace between words, leading/trailing space, and
    /// unique prefixes of at least four letters ("aban" for "abandon").
    public static func parse(_ text: String) throws(CodeError) -> PairingCode {
        var copy = text
        let result = copy.withUTF8 { utf8 in parseResult(UnsafeRawBufferPointer(utf8)) }
        // A switch rather than `result.get()`: the latter crashes Swift 6.3.1's debug code generation here.
        switch result {
        case .success(let code): return code
        case .failure(let error): throw error
        }
    }

    static func parseResult(_ bytes: UnsafeRawBufferPointer) -> Result<PairingCode, CodeError> {
        do { return .success(try parse(bytes: bytes)) } catch { return .failure(error) }
    }

    public static func parse(bytes: UnsafeRawBufferPointer) throws(CodeError) -> PairingCode {
        var indices = InlineArray<12, UInt16>(repeating: 0)
        var tokens = InlineArray<12, FixedText<24>>(repeating: FixedText())
        var found = 0
        var firstUnknown: CodeError? = nil
        var token = InlineArray<24, UInt8>(repeating: 0)
        var tokenLength = 0
        var inToken = false
        var i = 0
        while i <= bytes.count {
            let c: UInt8 = i < bytes.count ? bytes[i] : UInt8(ascii: " ")
            if isSeparator(c) {
                if inToken {
                    found += 1
                    if found <= wordCount {
                        let view = token.span
                        let (index, shown) = view.withUnsafeBytes { raw -> (Int?, FixedText<24>) in
                            let typed = UnsafeRawBufferPointer(rebasing: raw[0..<min(tokenLength, maxTokenLength)])
                            return (Wordlist.index(of: typed), printable(typed))
                        }
                        tokens[found - 1] = shown
                        if let index {
                            indices[found - 1] = UInt16(index)
                        } else if firstUnknown == nil {
                            let suggestions = view.withUnsafeBytes { raw in
                                Wordlist.closest(to: UnsafeRawBufferPointer(rebasing: raw[0..<min(tokenLength, maxTokenLength)]))
                            }
                            firstUnknown = .unknownWord(position: found, typed: shown, suggestions: suggestions)
                        }
                    }
                    inToken = false
                    tokenLength = 0
                }
            } else {
                inToken = true
                if tokenLength < maxTokenLength { token[tokenLength] = lowercased(c) }
                tokenLength += 1
            }
            i += 1
        }
        guard found == wordCount else { throw .wrongWordCount(found: found) }
        if let firstUnknown { throw firstUnknown }
        if let code = fromIndices(indices) { return code }
        throw .checksumMismatch(fixes: checksumFixes(indices: indices, tokens: tokens))
    }

    /// Single-word substitutions within edit distance 2 of what was typed that make the checksum pass.
    static func checksumFixes(indices: InlineArray<12, UInt16>, tokens: InlineArray<12, FixedText<24>>) -> CodeFixes {
        var fixes = CodeFixes()
        let maxDistance = 2
        for position in 0..<wordCount {
            let typed = Wordlist.bytes(at: Int(indices[position]))
            for candidate in 0..<Wordlist.count where candidate != Int(indices[position]) {
                let distance = EditDistance.optimalStringAlignment(typed, Wordlist.bytes(at: candidate), limit: maxDistance)
                guard distance <= maxDistance else { continue }
                var trial = indices
                trial[position] = UInt16(candidate)
                guard var code = fromIndices(trial) else { continue }
                code.wipe()
                fixes.offer(CodeFix(position: position + 1, typed: tokens[position], replacement: candidate), rank: distance)
            }
        }
        return fixes
    }

    static func isSeparator(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
            || c == 0x0B || c == 0x0C
    }

    static func lowercased(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c
    }

    /// The token as safe text for an error message: printable ASCII kept, anything else shown as '?', so a
    /// hostile or garbled input cannot put control sequences on a terminal.
    static func printable(_ typed: UnsafeRawBufferPointer) -> FixedText<24> {
        var buffer = FixedBytes<24>()
        for i in 0..<typed.count {
            let c = typed[i]
            buffer[i] = c >= 0x20 && c < 0x7F ? c : UInt8(ascii: "?")
        }
        // Printable ASCII is valid UTF-8 and at most 24 bytes, so this cannot fail.
        return (try? buffer.withUnsafeBytes { raw throws(TextError) in
            try FixedText<24>(validating: UnsafeRawBufferPointer(rebasing: raw[0..<typed.count]))
        }) ?? FixedText()
    }
}
