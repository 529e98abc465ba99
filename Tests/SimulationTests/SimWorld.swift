import Crypto

#if canImport(Glibc)
import Glibc
#endif

/// The deterministic simulator's world: a virtual clock, a seeded random source and a network of numbered hosts
/// whose messages are delivered in time order (ties in sending order). Nothing here reads the real clock or the
/// OS's randomness, so one seed is one history: a failing run prints its seed, and `SDPAIR_SIM_SEED=<seed>` replays
/// exactly that run (FoundationDB's and TigerBeetle's simulation testing, at the scale of one test process).
///
/// The network's faults are the ones the agent meets: latency with jitter (which reorders), packet loss, partitions
/// between groups of hosts, and hosts that black-hole everything sent to them. Everything the agent sends goes over
/// TCP, so loss is modelled as TCP meets it: a lost transmission is sent again after the retransmission timeout,
/// which doubles each time (RFC 6298: 1 s at first, 200 ms in Linux's practice), and after `retries` the message is
/// gone; the receiver's own timeout decides before that whether the peer failed.
struct SimWorld<Message> {
    struct Delivery {
        let at: UInt64
        let sequence: UInt64
        let from: Int
        let to: Int
        let message: Message
    }

    var now: UInt64 = 0
    var random: SimRandom
    /// One-way latency: `latency` ms plus up to `jitter` ms, drawn per message.
    var latency: UInt64 = 20
    var jitter: UInt64 = 0
    /// Per transmission, in [0, 1].
    var loss: Double = 0
    /// The first retransmission timeout (doubling after each loss), and how many times a message is sent again.
    var retransmitAfter: UInt64 = 200
    var retries = 5
    /// The longest TCP's retransmissions can delay a message that still arrives (with any loss at all).
    var longestRetransmission: UInt64 { loss > 0 ? retransmitAfter * ((1 << UInt64(retries)) - 1) : 0 }
    /// Retransmissions so far.
    private(set) var retransmitted = 0
    /// Hosts that receive nothing (a dead address, a firewall that drops).
    var blackHoles: Set<Int> = []
    /// A host's side of a partition (hosts with different sides cannot reach each other); absent: side 0.
    var side: [Int: Int] = [:]
    /// Messages sent, delivered, and dropped by loss, partitions or black holes.
    private(set) var sent = 0
    private(set) var delivered = 0
    private(set) var dropped = 0
    /// A running digest of every delivery (time, hosts, sequence): two runs from one seed end with the same value.
    private(set) var trace: UInt64 = 0xcbf2_9ce4_8422_2325

    private var heap: [Delivery] = []
    private var sequence: UInt64 = 0

    init(seed: UInt64) { random = SimRandom(seed: seed) }

    /// Sends `message`; returns when it arrives, or nil when it never will. `notBefore`: not earlier than this (a TCP
    /// stream's bytes arrive in order: the next segment never overtakes the last).
    @discardableResult
    mutating func send(_ message: Message, from: Int, to: Int, notBefore: UInt64 = 0) -> UInt64? {
        sent += 1
        guard !blackHoles.contains(to), side[from, default: 0] == side[to, default: 0] else {
            dropped += 1
            return nil
        }
        var delay = latency + (jitter > 0 ? random.below(jitter + 1) : 0)
        var timeout = retransmitAfter
        var attempt = 0
        while random.chance(loss) {
            attempt += 1
            guard attempt <= retries else {
                dropped += 1
                return nil
            }
            retransmitted += 1
            delay += timeout
            timeout *= 2
        }
        let at = max(now + delay, notBefore)
        push(Delivery(at: at, sequence: sequence, from: from, to: to, message: message))
        sequence += 1
        return at
    }

    /// A message to oneself at `at` (a timer): never lost, delivered in order with the rest.
    mutating func schedule(_ message: Message, for host: Int, at: UInt64) {
        push(Delivery(at: max(at, now), sequence: sequence, from: host, to: host, message: message))
        sequence += 1
    }

    /// The next delivery, with the clock moved to its time; nil when nothing is in flight.
    mutating func next() -> Delivery? {
        guard let d = pop() else { return nil }
        now = d.at
        delivered += 1
        for v in [d.at, UInt64(d.from), UInt64(d.to), d.sequence] { trace = (trace ^ v) &* 0x100_0000_01b3 }
        return d
    }

    var isIdle: Bool { heap.isEmpty }

    /// When the next delivery is due (nil: nothing in flight).
    var nextAt: UInt64? { heap.first?.at }

    // A binary heap ordered by (at, sequence).
    private static func before(_ a: Delivery, _ b: Delivery) -> Bool { a.at != b.at ? a.at < b.at : a.sequence < b.sequence }

    private mutating func push(_ d: Delivery) {
        heap.append(d)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() -> Delivery? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && Self.before(heap[l], heap[m]) { m = l }
            if r < heap.count && Self.before(heap[r], heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// xoshiro256** seeded through SplitMix64: fast, and the same numbers on every machine. Also the `RandomSource`
/// that the code under simulation draws its keys from, so that they too follow from the seed.
struct SimRandom: RandomSource {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9e37_79b9_7f4a_7c15
            var z = x
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: UInt64) -> UInt64 { next() % n }

    mutating func chance(_ p: Double) -> Bool { p > 0 && Double(next() >> 11) / Double(1 << 53) < p }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: next()) }
    }
}

/// The seeds a simulation test runs: `SDPAIR_SIM_SEED` alone when set (a replay), else every seed that ever failed
/// (`regression-seeds.txt` beside this file, one per line) and then `fresh` seeds, new in every run.
enum SimSeeds {
    static func forTest(_ name: String, fresh: Int) -> [UInt64] {
        if let text = getenv("SDPAIR_SIM_SEED").map({ String(cString: $0) }), let seed = UInt64(text) { return [seed] }
        var seeds: [UInt64] = []
        let path = String(#filePath.dropLast("SimWorld.swift".count)) + "regression-seeds.txt"
        if let file = fopen(path, "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, 256, file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    .split(separator: "#").first.map(String.init) ?? ""
                let fields = text.split { $0 == " " || $0 == "\n" || $0 == "\t" }
                if fields.count == 2, fields[0] == name, let seed = UInt64(fields[1]) { seeds.append(seed) }
            }
        }
        var entropy = SimRandom(seed: UInt64(time(nil)) ^ UInt64(getpid()) << 32)
        for _ in 0..<fresh { seeds.append(entropy.next() >> 1) }
        return seeds
    }

    /// What a failing run prints: its seed and the command that replays it.
    static func replay(_ seed: UInt64, _ test: String) -> String {
        "seed " + String(seed) + "; replay: SDPAIR_SIM_SEED=" + String(seed) + " swift test --filter " + test
            + " (keep it: add '" + test.split(separator: "/").last.map(String.init)! + " " + String(seed) + "' to Tests/SimulationTests/regression-seeds.txt)"
    }
}
