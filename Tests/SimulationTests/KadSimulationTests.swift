import Agent
import Crypto
import Discovery
import Transport
import Wire
import XCTest

/// The agent's Kademlia decisions (`KadLookup`: whom to ask next, when a lookup is done, where a record goes) in a
/// simulated DHT of 200 nodes, from a seed. The servers are a simple model, not our code: each keeps up to k peers
/// per bucket (by common prefix length, as libp2p's routing table does) and answers FIND_NODE with the k closest it
/// knows. What is measured is ours: how many referral hops a lookup follows and whether it ends at the k nodes
/// closest to the key.
final class KadSimulationTests: XCTestCase {
    enum Message {
        case findNode(request: Int)
        case closer(request: Int, peers: [Int])
        case timeout(request: Int)
    }

    /// The simulated DHT: node i's peer id, the hash lookups measure distance with, and its routing table.
    struct DHT {
        let n: Int
        var peers: [KadPeer] = []
        var hashes: [FixedBytes<32>] = []
        var tables: [[Int]] = []

        init(n: Int, random: inout SimRandom) {
            self.n = n
            for i in 0..<n {
                var key = FixedBytes<32>()
                key.withUnsafeMutableBytes { random.fill($0) }
                let id = PeerID(publicKey: Ed25519.PublicKey(bytes: key))
                // The node's index rides in its port: the driver maps a KadPeer back to a host without a table.
                peers.append(KadPeer(id: id, address: try! Multiaddr(text: "/ip4/10.0." + String(i / 256) + "." + String(i % 256) + "/tcp/" + String(1000 + i))))
                hashes.append(id.bytes.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer($0)) })
            }
            for i in 0..<n {
                var buckets = [[Int]](repeating: [], count: 257)
                for j in 0..<n where j != i { buckets[Self.commonPrefix(hashes[i], hashes[j])].append(j) }
                var table: [Int] = []
                for var bucket in buckets {
                    // A full bucket keeps k of its candidates, chosen by the seed (whom a node happened to meet).
                    while bucket.count > KadLookup.k { bucket.remove(at: Int(random.below(UInt64(bucket.count)))) }
                    table += bucket
                }
                tables.append(table)
            }
        }

        static func commonPrefix(_ a: FixedBytes<32>, _ b: FixedBytes<32>) -> Int {
            for i in 0..<32 where a[i] != b[i] { return i * 8 + (a[i] ^ b[i]).leadingZeroBitCount }
            return 256
        }

        static func closer(_ a: FixedBytes<32>, _ b: FixedBytes<32>, to t: FixedBytes<32>) -> Bool {
            for i in 0..<32 where a[i] ^ t[i] != b[i] ^ t[i] { return a[i] ^ t[i] < b[i] ^ t[i] }
            return false
        }

        func closest(to target: FixedBytes<32>, among nodes: [Int], count: Int) -> [Int] {
            Array(nodes.sorted { Self.closer(hashes[$0], hashes[$1], to: target) }.prefix(count))
        }
    }

    struct Outcome {
        var found: [Int]
        /// The longest chain of referrals followed: a bootstrap peer is hop 1, a peer it named hop 2, and so on.
        var hops: Int
        var requests: Int
        var milliseconds: UInt64
    }

    /// One lookup by a client (host `dht.n`) for `key`, from three bootstrap peers, driven over `world`.
    static func lookup(_ key: FixedBytes<32>, in dht: DHT, world: inout SimWorld<Message>, timeout: UInt64) -> Outcome {
        let client = dht.n
        var lookup = key.withUnsafeBytes { KadLookup(key: $0) }
        var hop = [Int: Int]()
        for _ in 0..<3 {
            let b = Int(world.random.below(UInt64(dht.n)))
            if lookup.add(dht.peers[b]) { hop[b] = 1 }
        }
        var requests: [(entry: Int, node: Int, open: Bool)] = []
        var hops = 0
        let start = world.now
        for _ in 0..<100_000 {  // bounded: a lookup of 200 nodes is a few dozen requests
            while let e = lookup.next() {
                let node = Int(lookup.entry(e)!.peer.address.port) - 1000
                hops = max(hops, hop[node]!)
                requests.append((e, node, true))
                world.send(.findNode(request: requests.count - 1), from: client, to: node)
                world.schedule(.timeout(request: requests.count - 1), for: client, at: world.now + timeout)
            }
            if lookup.isFinished { break }
            guard let d = world.next() else { break }
            switch d.message {
            case .findNode(let r):
                // The server's side (the model): the k closest peers in its table.
                let answer = dht.closest(to: lookup.target, among: dht.tables[d.to], count: KadLookup.k)
                world.send(.closer(request: r, peers: answer), from: d.to, to: d.from)
            case .closer(let r, let peers):
                guard requests[r].open else { continue }
                requests[r].open = false
                for p in peers where lookup.add(dht.peers[p]) { hop[p] = min(hop[p] ?? .max, hop[requests[r].node]! + 1) }
                lookup.answered(requests[r].entry)
            case .timeout(let r):
                guard requests[r].open else { continue }
                requests[r].open = false
                lookup.failed(requests[r].entry)
            }
        }
        while let d = world.next() { _ = d }  // late answers and spent timers: the next lookup starts on a quiet network
        var out = InlineArray<20, Int>(repeating: 0)
        let m = lookup.closestAnswered(&out)
        var found: [Int] = []
        for j in 0..<m { found.append(Int(lookup.entry(out[j])!.peer.address.port) - 1000) }
        return Outcome(found: found, hops: hops, requests: requests.count, milliseconds: world.now - start)
    }

    static let nodes = 200
    /// How long a request waits for its answer: the agent's.
    static let requestTimeout = DHTSchedule.requestTimeoutMilliseconds
    /// log₂(200) rounded up, plus a constant: the bound for a lookup's rounds.
    static let hopBound = 8 + 2

    func run(_ test: String, fresh: Int, body: (UInt64) throws -> Void) rethrows {
        for seed in SimSeeds.forTest(test, fresh: fresh) { try body(seed) }
    }

    /// Lookups on a quiet network reach the 20 closest nodes within log₂(n)+2 hops.
    func testLookupsConvergeInLogarithmicHops() {
        run("testLookupsConvergeInLogarithmicHops", fresh: 2) { seed in
            var world = SimWorld<Message>(seed: seed)
            world.latency = 10
            world.jitter = 40
            let dht = DHT(n: Self.nodes, random: &world.random)
            var worst = 0
            for _ in 0..<40 {
                var key = FixedBytes<32>()
                key.withUnsafeMutableBytes { world.random.fill($0) }
                let outcome = Self.lookup(key, in: dht, world: &world, timeout: 1000)
                let target = key.withUnsafeBytes { SHA256.hash($0) }
                let truth = dht.closest(to: target, among: Array(0..<dht.n), count: KadLookup.k)
                worst = max(worst, outcome.hops)
                XCTAssertEqual(Set(outcome.found), Set(truth), "found other than the 20 closest; " + SimSeeds.replay(seed, "SimulationTests.KadSimulationTests/testLookupsConvergeInLogarithmicHops"))
                XCTAssertLessThanOrEqual(outcome.hops, Self.hopBound, SimSeeds.replay(seed, "SimulationTests.KadSimulationTests/testLookupsConvergeInLogarithmicHops"))
            }
            print("kad simulation, seed \(seed): 40 lookups over \(Self.nodes) nodes, at most \(worst) hops (bound \(Self.hopBound)), \(world.delivered) messages")
        }
    }

    /// 20 % of packets lost (TCP sends them again), 10 nodes black-holed, latency 10–210 ms: every lookup still ends
    /// (the timeout fails the silent ones, as the agent's does), within the hop bound, holding the closest live node
    /// and nearly all of the 20 closest live ones.
    func testLookupsSurviveLossAndBlackHoles() {
        run("testLookupsSurviveLossAndBlackHoles", fresh: 2) { seed in
            var world = SimWorld<Message>(seed: seed)
            world.latency = 10
            world.jitter = 200
            world.loss = 0.2
            let dht = DHT(n: Self.nodes, random: &world.random)
            while world.blackHoles.count < 10 { world.blackHoles.insert(Int(world.random.below(UInt64(dht.n)))) }
            let live = (0..<dht.n).filter { !world.blackHoles.contains($0) }
            var overlap = 0
            var closestFound = 0
            var slowest: UInt64 = 0
            let lookups = 40
            for _ in 0..<lookups {
                var key = FixedBytes<32>()
                key.withUnsafeMutableBytes { world.random.fill($0) }
                let outcome = Self.lookup(key, in: dht, world: &world, timeout: Self.requestTimeout)
                let target = key.withUnsafeBytes { SHA256.hash($0) }
                let truth = dht.closest(to: target, among: live, count: KadLookup.k)
                overlap += Set(outcome.found).intersection(truth).count
                if outcome.found.contains(truth[0]) { closestFound += 1 }
                slowest = max(slowest, outcome.milliseconds)
                XCTAssertLessThanOrEqual(outcome.hops, Self.hopBound, SimSeeds.replay(seed, "SimulationTests.KadSimulationTests/testLookupsSurviveLossAndBlackHoles"))
                XCTAssertTrue(outcome.found.allSatisfy { !world.blackHoles.contains($0) }, "a silent node counted as answered")
            }
            let share = Double(overlap) / Double(lookups * KadLookup.k)
            print("kad simulation under loss, seed \(seed): \(closestFound)/\(lookups) found the closest live node, \(Int(share * 100)) % of the 20 closest; slowest \(slowest) ms; \(world.retransmitted) retransmissions, \(world.dropped) messages lost")
            XCTAssertGreaterThanOrEqual(closestFound, lookups - 2, SimSeeds.replay(seed, "SimulationTests.KadSimulationTests/testLookupsSurviveLossAndBlackHoles"))
            XCTAssertGreaterThanOrEqual(share, 0.9, SimSeeds.replay(seed, "SimulationTests.KadSimulationTests/testLookupsSurviveLossAndBlackHoles"))
        }
    }

    /// One seed, one history: the same seed replays the same deliveries and results; another seed does not.
    func testASeedReplaysTheSameRun() {
        func history(_ seed: UInt64) -> (UInt64, [[Int]]) {
            var world = SimWorld<Message>(seed: seed)
            world.jitter = 100
            world.loss = 0.1
            let dht = DHT(n: 64, random: &world.random)
            var found: [[Int]] = []
            for _ in 0..<5 {
                var key = FixedBytes<32>()
                key.withUnsafeMutableBytes { world.random.fill($0) }
                found.append(Self.lookup(key, in: dht, world: &world, timeout: 500).found)
            }
            return (world.trace, found)
        }
        let a = history(42), b = history(42), c = history(43)
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1, b.1)
        XCTAssertNotEqual(a.0, c.0)
    }
}
