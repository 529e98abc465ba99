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
    /// A short code (digits only) without exactly 12 digits.
    case wrongDigitCount(found: Int)
    /// A short code whose check digit fails: one digit is wrong or two neighbours are swapped (the Damm digit cannot
    /// say which).
    case digitTypo

    /// One line for a person.
    public var message: String {
        switch self {
        case .wrongWordCount(let found):
            return "a pairing code has 12 words, this one has " + String(found)
        case .wrongDigitCount(let found):
            let hint = found == 11 ? " (one is missing)" : found == 13 ? " (one too many)" : ""
            return "a short code has 12 digits, this one has " + String(found) + hint
        case .digitTypo:
            return "a digit is wrong or two neighbouring digits are swapped (the check digit does not match): read the code again"
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
                if fix.swapsNext {
                    line += "words " + String(fix.position) + " and " + String(fix.position + 1) + " swapped"
                    continue
                }
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

/// A suggested correction: replace word `position` (1-based) with wordlist entry `replacement`, or, when
/// `swapsNext`, swap words `position` and `position + 1`.
public struct CodeFix: Equatable, Sendable {
    public var position: Int
    public var typed: FixedText<24>
    public var replacement: Int
    public var swapsNext = false
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
        // Digits only: the short code (issue 19); any letter: the 12 words (which take digits as separators).
        if ShortCode.looksShort(bytes) { return PairingCode(short: try ShortCode.parse(bytes)) }
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
            let separator = i < bytes.count ? separatorLength(bytes, at: i) : 1
            if separator > 0 {
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
                i += separator
            } else {
                inToken = true
                if tokenLength < maxTokenLength { token[tokenLength] = lowercased(c) }
                tokenLength += 1
                i += 1
            }
        }
        guard found == wordCount else { throw .wrongWordCount(found: found) }
        if let firstUnknown { throw firstUnknown }
        if let code = fromIndices(indices) { return code }
        throw .checksumMismatch(fixes: checksumFixes(indices: indices, tokens: tokens))
    }

    /// Fixes that make the checksum pass, best first: at every position, the words within two edits of what was
    /// typed, and two neighbouring words swapped. Fewer edits first, a swap between one and two; between equals,
    /// the replacement that fewer list words lie near (fewer words could have been mistyped as what was typed).
    /// Measured in TypoHintTests (Docs/TESTING.md): a keyboard slip is named first 81 % of the time, a swap 45 %.
    static func checksumFixes(indices: InlineArray<12, UInt16>, tokens: InlineArray<12, FixedText<24>>) -> CodeFixes {
        var fixes = CodeFixes()
        for position in 0..<wordCount {
            let typed = Wordlist.bytes(at: Int(indices[position]))
            Wordlist.forEach { candidate, word in
                guard candidate != Int(indices[position]) else { return }
                let swap = position + 1 < wordCount && candidate == Int(indices[position + 1])
                let distance = typed.withUnsafeBytes { EditDistance.optimalStringAlignment($0, word, limit: 2) }
                guard distance <= 2 || swap else { return }
                // Swapping in the next word first, then the same candidate as a plain substitution.
                for asSwap in [true, false] where asSwap ? swap : distance <= 2 {
                    var trial = indices
                    trial[position] = UInt16(candidate)
                    if asSwap { trial[position + 1] = indices[position] }
                    guard var code = fromIndices(trial) else { continue }
                    code.wipe()
                    fixes.offer(
                        CodeFix(position: position + 1, typed: tokens[position], replacement: candidate, swapsNext: asSwap),
                        rank: asSwap ? 64 : (distance - 1) * 65 + min(63, nearWords(candidate)))
                }
            }
        }
        return fixes
    }

    /// How many list words are within two edits of word `index`.
    static func nearWords(_ index: Int) -> Int {
        var n = 0
        let word = Wordlist.bytes(at: index)
        word.withUnsafeBytes { mine in
            Wordlist.forEach { other, theirs in
                if other != index && EditDistance.optimalStringAlignment(mine, theirs, limit: 2) <= 2 { n += 1 }
            }
        }
        return n
    }

    /// What separates words, as people copy them: whitespace, ASCII punctuation and digits (a numbered list, "word-
    /// word", "word, word."), the no-break space, and the typographic spaces, dashes, quotes and dots a phone or a
    /// word processor puts in (U+2000–U+206F, the ideographic space, comma and full stop). Returns the separator's
    /// length in bytes, 0 for a letter.
    static func separatorLength(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Int {
        let c = bytes[i]
        if c < 0x80 {
            let letter = (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            return letter ? 0 : 1
        }
        guard let (scalar, length) = UntrustedText.scalar(bytes, at: i) else { return 0 }
        let separates = scalar == 0xA0 || scalar == 0xB7 || (scalar >= 0x2000 && scalar <= 0x206F) || (scalar >= 0x3000 && scalar <= 0x3002) || scalar == 0xFF0C
        return separates ? length : 0
    }

    static func lowercased(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c
    }

    /// The token as safe text for an error message: what was typed (any language), with control and formatting
    /// characters and invalid bytes shown as '?' (UntrustedText's rule), so a garbled or hostile input cannot put
    /// control sequences on a terminal. Cut at a whole character within 24 bytes.
    static func printable(_ typed: UnsafeRawBufferPointer) -> FixedText<24> {
        var buffer = FixedBytes<24>()
        var n = 0
        var i = 0
        while i < typed.count {
            let decoded = UntrustedText.scalar(typed, at: i)
            if let (scalar, length) = decoded, !UntrustedText.isForbidden(scalar) {
                guard n + length <= 24 else { break }
                for k in 0..<length { buffer[n + k] = typed[i + k] }
                n += length
            } else {
                guard n < 24 else { break }
                buffer[n] = UInt8(ascii: "?")  // one for a forbidden character, one for each invalid byte
                n += 1
            }
            i += decoded?.length ?? 1
        }
        // Whole valid scalars and '?' only, at most 24 bytes: this cannot fail.
        return (try? buffer.withUnsafeBytes { raw throws(TextError) in
            try FixedText<24>(validating: UnsafeRawBufferPointer(rebasing: raw[0..<n]))
        }) ?? FixedText()
    }
}
