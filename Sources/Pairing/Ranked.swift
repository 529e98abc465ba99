/// The best three candidates seen so far, ordered by rank (lower is better; equal ranks keep arrival order).
/// Fixed storage: suggesting corrections for hostile input allocates nothing.
public struct Ranked<Element: Equatable & Sendable>: Equatable, Sendable {
    public static var capacity: Int { 3 }
    private var items: InlineArray<3, Element>
    private var ranks: InlineArray<3, UInt8> = InlineArray(repeating: 0)
    public private(set) var count = 0

    /// `filler` occupies unused slots; it is never returned.
    init(filler: Element) { items = InlineArray(repeating: filler) }

    public subscript(i: Int) -> Element { items[i] }

    mutating func offer(_ item: Element, rank: Int) {
        let rank = min(rank, Int(UInt8.max))
        var slot = count
        while slot > 0 && Int(ranks[slot - 1]) > rank { slot -= 1 }
        guard slot < Self.capacity else { return }
        var i = min(count, Self.capacity - 1)
        while i > slot {
            items[i] = items[i - 1]
            ranks[i] = ranks[i - 1]
            i -= 1
        }
        items[slot] = item
        ranks[slot] = UInt8(rank)
        count = min(count + 1, Self.capacity)
    }

    /// Keeps only candidates at most `slack` worse than the best one.
    mutating func dropWorseThanBest(by slack: Int) {
        guard count > 0 else { return }
        let limit = Int(ranks[0]) + slack
        while count > 0 && Int(ranks[count - 1]) > limit { count -= 1 }
    }

    public static func == (a: Self, b: Self) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.items[i] != b.items[i] { return false }
        return true
    }
}

/// Up to three wordlist indices, closest first.
public typealias WordSuggestions = Ranked<UInt16>

extension Ranked where Element == UInt16 {
    public init() { self.init(filler: 0) }
    public var words: [String] { (0..<count).map { Wordlist.word(at: Int(self[$0])) } }
}
