import CSupport

/// One word of the list, decoded (the table is front-coded, so no word lies in memory as letters): up to 8 ASCII
/// letters, by value. A code's words decoded here are stack copies: in the daemon `sd_scrub_stack` clears them when
/// the window ends (HostilePeerTests looks for the words in its memory afterwards); a joiner's process ends with its
/// join.
public struct Word {
    var cursor: sd_bip39_cursor

    public var count: Int { Int(cursor.length) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        Swift.withUnsafeBytes(of: cursor.word) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

/// Read access to the BIP39 English wordlist table, and the fuzzy matching the code parser needs.
public enum Wordlist {
    public static let count = BIP39Wordlist.wordCount
    /// BIP39 English words are unique in their first four letters, so four letters always name one word.
    public static let uniquePrefixLength = 4
    /// No BIP39 English word is longer than this.
    public static let maxWordLength = 8

    /// The word at `index` (0..<2048).
    public static func bytes(at index: Int) -> Word {
        var word = Word(cursor: sd_bip39_cursor())
        sd_bip39_seek(&word.cursor, Int32(index))
        return word
    }

    public static func word(at index: Int) -> String {
        bytes(at: index).withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// Every word in list order, one decoding step each (what a scan over the whole list should use).
    public static func forEach(_ body: (Int, UnsafeRawBufferPointer) -> Void) {
        var word = Word(cursor: sd_bip39_cursor())
        sd_bip39_seek(&word.cursor, 0)
        repeat {
            word.withUnsafeBytes { body(Int(word.cursor.index), $0) }
        } while sd_bip39_next(&word.cursor) != 0
    }

    /// Finds the word a user meant by `typed` (lowercase ASCII): the exact word, or, from four letters on, the
    /// unique word that starts with what was typed. Returns nil when no word fits.
    public static func index(of typed: UnsafeRawBufferPointer) -> Int? {
        guard typed.count > 0, typed.count <= maxWordLength else { return nil }
        let keyLength = min(typed.count, uniquePrefixLength)
        let key = UnsafeRawBufferPointer(rebasing: typed[0..<keyLength])
        // Binary search for the first entry that is not less than the key.
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if bytes(at: mid).withUnsafeBytes({ compare($0, key) }) < 0 { low = mid + 1 } else { high = mid }
        }
        guard low < count else { return nil }
        let found = bytes(at: low).withUnsafeBytes { candidate -> Bool in
            if typed.count < uniquePrefixLength { return compare(candidate, typed) == 0 }
            return startsWith(candidate, typed)
        }
        return found ? low : nil
    }

    static func startsWith(_ word: UnsafeRawBufferPointer, _ prefix: UnsafeRawBufferPointer) -> Bool {
        guard prefix.count <= word.count else { return false }
        for i in 0..<prefix.count where word[i] != prefix[i] { return false }
        return true
    }

    /// Lexicographic byte comparison.
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    /// The up-to-three words closest to `typed` by edit distance (optimal string alignment: insertions,
    /// deletions, substitutions and swaps of neighbouring letters, the usual typing errors). Words farther
    /// than `maxDistance` are not suggested: they would be guesses, not corrections.
    /// Fewer than four letters that start list words ("aba", "con"): those words, in list order (the first three).
    public static func closest(to typed: UnsafeRawBufferPointer, maxDistance: Int = 3) -> WordSuggestions {
        var best = WordSuggestions()
        if typed.count < uniquePrefixLength {
            forEach { index, word in
                if startsWith(word, typed) { best.offer(UInt16(index), rank: 0) }
            }
            if best.count > 0 { return best }
        }
        forEach { index, word in
            let distance = EditDistance.optimalStringAlignment(typed, word, limit: maxDistance)
            if distance <= maxDistance { best.offer(UInt16(index), rank: distance) }
        }
        // Next to a one-letter fix, a word three edits away is noise.
        best.dropWorseThanBest(by: 1)
        return best
    }
}

/// Edit distance on short ASCII words, in fixed stack storage.
public enum EditDistance {
    /// Longest input compared; longer inputs are cut (nothing in the wordlist is near them anyway).
    static let maxLength = 24

    /// Optimal string alignment distance, capped: returns `limit + 1` as soon as it must exceed `limit`.
    public static func optimalStringAlignment(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, limit: Int) -> Int {
        let n = min(a.count, maxLength)
        let m = min(b.count, maxLength)
        if abs(n - m) > limit { return limit + 1 }
        // Three rolling rows of the DP matrix: i-2, i-1 and i.
        var rows = InlineArray<75, UInt8>(repeating: 0)  // 3 rows × (maxLength + 1)
        let width = maxLength + 1
        for j in 0...m { rows[width + j] = UInt8(j) }  // row "i-1" starts as row 0
        for i in 1...max(n, 1) where n > 0 {
            let current = ((i + 1) % 3) * width
            let previous = (i % 3) * width
            let beforePrevious = ((i + 2) % 3) * width
            rows[current] = UInt8(i)
            var rowMinimum = Int(rows[current])
            if m > 0 {
                for j in 1...m {
                    let cost = a[i - 1] == b[j - 1] ? 0 : 1
                    var value = min(
                        Int(rows[previous + j]) + 1, Int(rows[current + j - 1]) + 1,
                        Int(rows[previous + j - 1]) + cost)
                    if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                        value = min(value, Int(rows[beforePrevious + j - 2]) + 1)
                    }
                    rows[current + j] = UInt8(min(value, 255))
                    rowMinimum = min(rowMinimum, value)
                }
            }
            if rowMinimum > limit { return limit + 1 }
        }
        return n == 0 ? m : Int(rows[((n + 1) % 3) * width + m])
    }
}
