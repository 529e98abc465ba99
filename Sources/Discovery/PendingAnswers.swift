import Wire

/// mDNS answers (service instances) waiting for a resolver slot: sans-IO, fixed storage. Every `_sd-pair._tcp`
/// instance on the LAN is one answer, and any LAN host can publish as many as it likes, so an answer is never
/// dropped for being late — the real device may come after a crowd of fakes. A repeated answer (the same name on
/// the same interface and protocol) is kept once; a service that goes away before it was resolved leaves the
/// queue; a full queue forgets its oldest answer for the newcomer, so the most recent answers are always resolved.
public struct PendingAnswers {
    public static let capacity = 32

    public struct Answer: Equatable {
        public var interface: Int32
        public var proto: Int32
        public var name: FixedText<64>
        public var domain: FixedText<64>

        public init(interface: Int32, proto: Int32, name: FixedText<64>, domain: FixedText<64>) {
            self.interface = interface
            self.proto = proto
            self.name = name
            self.domain = domain
        }
    }

    private var items = InlineArray<32, Answer?>(repeating: nil)
    private var head = 0
    public private(set) var count = 0
    /// Answers forgotten because the queue was full (for one log line, not one per answer).
    public private(set) var forgotten = 0

    public init() {}

    private func index(_ k: Int) -> Int { (head + k) % Self.capacity }

    /// Queues an answer; false when it was already waiting.
    @discardableResult
    public mutating func push(_ answer: Answer) -> Bool {
        for k in 0..<count where items[index(k)] == answer { return false }
        if count == Self.capacity {
            _ = pop()
            forgotten += 1
        }
        items[index(count)] = answer
        count += 1
        return true
    }

    /// The oldest waiting answer.
    public mutating func pop() -> Answer? {
        guard count > 0 else { return nil }
        let a = items[head]
        items[head] = nil
        head = (head + 1) % Self.capacity
        count -= 1
        return a
    }

    /// A service withdrawn before its turn: drop it (keeping the others in order).
    public mutating func remove(_ answer: Answer) {
        var kept = 0
        for k in 0..<count {
            let a = items[index(k)]
            items[index(k)] = nil
            if a != answer {
                items[index(kept)] = a
                kept += 1
            }
        }
        count = kept
    }

    public mutating func removeAll() { self = PendingAnswers() }

    /// Returns how many were forgotten since the last call, and starts counting again.
    public mutating func takeForgotten() -> Int {
        defer { forgotten = 0 }
        return forgotten
    }
}
