import Agent
import Crypto
import Discovery
import Transport
import Wire
import XCTest

/// The rendezvous through the DHT, in the simulator: a board publishes its window's record and 50 joiners look for
/// it, in a DHT of 200 nodes (the servers are KadSimulationTests' model, which also stores what it is given and
/// answers GET_VALUE with it). The schedule (`DHTSchedule`: which request a round sends, what follows a round, when
/// a joiner looks again) and the lookups (`KadLookup`) are the agent's own; the actors restate the node's `dhtTick`,
/// `finishRound` and `startRequests` over simulated requests (one request per connection, as many at once as
/// `DHTSchedule.mayStartRequest` lets the agent's four connections hold, the agent's request timeout). Joiners start before and after the record is stored: the early ones must
/// rest and look again until they find it. One round per joiner (no looking again) is the control: early joiners
/// never find the record.
final class DHTSimulationTests: XCTestCase {
    enum Message {
        case request(Int)
        case answer(Int, peers: [Int], record: Bool)
        case timeout(Int)
        case wake(Int)
        case start(Int)
    }

    struct Request {
        let actor: Int
        let entry: Int
        let node: Int
        let kind: KadMessage.Kind
        var open = true
    }

    struct Actor {
        var schedule: DHTSchedule
        var lookup: KadLookup
        var bootstrap: [Int] = []
        var startedAt: UInt64 = 0
        var inFlight = 0
        var foundAt: UInt64? = nil
        /// When each round started and ended (a joiner's rest lies between one's end and the next one's start).
        var roundStarts: [UInt64] = []
        var roundEnds: [UInt64] = []
        var wake: UInt64? = nil
    }

    static let nodes = 200
    static let joiners = 50
    static let requestTimeout = DHTSchedule.requestTimeoutMilliseconds
    /// No joiner waits longer than this (a window's code lives five minutes or more).
    static let horizon: UInt64 = 120_000

    struct Result {
        var storedAt: UInt64? = nil
        var storedOnClosest = 0
        var found = 0
        var foundInFirstRound = 0
        var lateJoiners = 0
        var earlyJoiners = 0
        var slowestAfterStore: UInt64 = 0
        var mostRounds = 0
        var restsTooShort = 0
    }

    static func run(seed: UInt64, loss: Double, blackHoles: Int, lookAgain: Bool) -> Result {
        var world = SimWorld<Message>(seed: seed)
        world.latency = 10
        world.jitter = loss > 0 ? 200 : 40
        world.loss = loss
        let dht = KadSimulationTests.DHT(n: nodes, random: &world.random)
        while world.blackHoles.count < blackHoles { world.blackHoles.insert(Int(world.random.below(UInt64(nodes)))) }
        var key = FixedBytes<32>()
        key.withUnsafeMutableBytes { world.random.fill($0) }
        let target = key.withUnsafeBytes { SHA256.hash($0) }
        let live = (0..<nodes).filter { !world.blackHoles.contains($0) }
        let closest = Set(dht.closest(to: target, among: live, count: KadLookup.k))

        var actors: [Actor] = []
        var requests: [Request] = []
        var stored = Set<Int>()
        var result = Result()
        let fresh = { key.withUnsafeBytes { KadLookup(key: $0) } }
        for a in 0...joiners {
            var actor = Actor(schedule: a == 0 ? .publishing : .searching, lookup: fresh())
            actor.bootstrap = (0..<3).map { _ in live[Int(world.random.below(UInt64(live.count)))] }
            // The board after 10–15 s; joiners over the first 40 s, many before the record is stored.
            actor.startedAt = a == 0 ? 10_000 + world.random.below(5_000) : world.random.below(40_000)
            actors.append(actor)
            world.schedule(.start(a), for: nodes + a, at: actor.startedAt)
        }

        func beginRound(_ a: Int) {
            actors[a].lookup = fresh()
            for b in actors[a].bootstrap { _ = actors[a].lookup.add(dht.peers[b]) }
            actors[a].roundStarts.append(world.now)
        }
        /// The node's `dhtTick` for one actor: requests while a round runs, what follows a round, what is due.
        func turn(_ a: Int) {
            let now = world.now
            guard actors[a].foundAt == nil else { return }  // a joiner that found the record dials its addresses now
            for _ in 0..<3 {  // a round's end can start the next phase's requests in the same turn
                if let kind = actors[a].schedule.request {
                    for _ in 0..<KadLookup.alpha {
                        // The agent's table has four connections; the schedule says how many requests may hold them.
                        guard DHTSchedule.mayStartRequest(freeLinks: 4 - actors[a].inFlight), let e = actors[a].lookup.next() else { break }
                        let node = Int(actors[a].lookup.entry(e)!.peer.address.port) - 1000
                        requests.append(Request(actor: a, entry: e, node: node, kind: kind))
                        actors[a].inFlight += 1
                        world.send(.request(requests.count - 1), from: nodes + a, to: node)
                        world.schedule(.timeout(requests.count - 1), for: nodes + a, at: now + requestTimeout)
                    }
                    guard actors[a].lookup.isFinished else { break }
                    actors[a].roundEnds.append(now)
                    switch actors[a].schedule.roundEnded(now: now, anyAnswered: actors[a].lookup.anyAnswered) {
                    case .closestFound:
                        // The board's PUT goes to the closest that answered (this model's board needs no relay).
                        var targets = InlineArray<20, Int>(repeating: 0)
                        let answered = actors[a].lookup.closestAnswered(&targets)
                        for j in 0..<answered { actors[a].lookup.reset(targets[j]) }
                        actors[a].schedule.putting()
                        continue
                    case .stored:
                        result.storedAt = now
                        result.storedOnClosest = stored.intersection(closest).count
                    default:
                        break
                    }
                    break
                }
                guard lookAgain else { return }  // the control: an empty round is the end
                switch actors[a].schedule.due(now: now, relayDecided: true, idle: true) {
                case .lookAgain:
                    if let end = actors[a].roundEnds.last, now < end + DHTSchedule.retryMilliseconds { result.restsTooShort += 1 }
                    beginRound(a)
                    continue
                case .put, .nothing:
                    break
                }
                break
            }
            // The node's loop turns when the schedule asks (`wakeAt`) and at least once a second, until the board has
            // stored its record or the joiner found it (or the run's horizon).
            guard actors[a].schedule.phase != .stored else { return }
            let at = min(actors[a].schedule.wakeAt ?? .max, now + 1_000)
            if at < horizon, actors[a].wake.map({ at < $0 }) ?? true {
                actors[a].wake = at
                world.schedule(.wake(a), for: nodes + a, at: at)
            }
        }

        for _ in 0..<2_000_000 {  // bounded: a run is a few tens of thousands of deliveries
            guard let d = world.next() else { break }
            switch d.message {
            case .start(let a):
                beginRound(a)
                turn(a)
            case .wake(let a):
                guard actors[a].wake == world.now else { continue }  // superseded by an earlier one
                actors[a].wake = nil
                turn(a)
            case .request(let r):
                // The server's side (the model): a PUT is kept; FIND_NODE and GET_VALUE get the k closest it knows,
                // GET_VALUE also the record if it holds one.
                let node = d.to
                if requests[r].kind == .putValue {
                    stored.insert(node)
                    world.send(.answer(r, peers: [], record: false), from: node, to: d.from)
                } else {
                    let peers = dht.closest(to: target, among: dht.tables[node], count: KadLookup.k)
                    world.send(.answer(r, peers: peers, record: requests[r].kind == .getValue && stored.contains(node)), from: node, to: d.from)
                }
            case .answer(let r, let peers, let record):
                guard requests[r].open else { continue }
                requests[r].open = false
                let a = requests[r].actor
                actors[a].inFlight -= 1
                if requests[r].kind != .putValue { for p in peers { _ = actors[a].lookup.add(dht.peers[p]) } }
                actors[a].lookup.answered(requests[r].entry)
                if record, actors[a].schedule.phase == .getting, actors[a].schedule.recordOpened(sequence: 0, now: world.now) {
                    actors[a].foundAt = world.now
                }
                turn(a)
            case .timeout(let r):
                guard requests[r].open else { continue }
                requests[r].open = false
                let a = requests[r].actor
                actors[a].inFlight -= 1
                actors[a].lookup.failed(requests[r].entry)
                turn(a)
            }
        }

        for j in actors.dropFirst() {
            result.mostRounds = max(result.mostRounds, j.roundStarts.count)
            if let storedAt = result.storedAt, j.startedAt >= storedAt { result.lateJoiners += 1 } else { result.earlyJoiners += 1 }
            guard let foundAt = j.foundAt else { continue }
            result.found += 1
            if j.roundStarts.count == 1 { result.foundInFirstRound += (result.storedAt.map { j.startedAt >= $0 } ?? false) ? 1 : 0 }
            if let storedAt = result.storedAt { let since = max(storedAt, j.startedAt); result.slowestAfterStore = max(result.slowestAfterStore, foundAt > since ? foundAt - since : 0) }
        }
        return result
    }

    func check(_ test: String, loss: Double, blackHoles: Int, minimumOnClosest: Int) {
        for seed in SimSeeds.forTest(test, fresh: 2) {
            let r = Self.run(seed: seed, loss: loss, blackHoles: blackHoles, lookAgain: true)
            let replay = SimSeeds.replay(seed, "DHTSimulationTests/" + test)
            XCTAssertNotNil(r.storedAt, "the board stored nothing; " + replay)
            XCTAssertGreaterThanOrEqual(r.storedOnClosest, minimumOnClosest, "the record missed the closest live nodes; " + replay)
            XCTAssertGreaterThan(r.earlyJoiners, 0, "no joiner started before the record was stored: the run does not test looking again; " + replay)
            XCTAssertEqual(r.found, Self.joiners, "joiners that never found the record; " + replay)
            XCTAssertEqual(r.restsTooShort, 0, "a joiner looked again sooner than retryMilliseconds; " + replay)
            print("dht rendezvous, seed \(seed), loss \(Int(loss * 100)) %: stored at \(r.storedAt ?? 0) ms on \(r.storedOnClosest) of the 20 closest live nodes; \(r.found)/\(Self.joiners) found it (\(r.earlyJoiners) started before it was stored; of the \(r.lateJoiners) after, \(r.foundInFirstRound) in their first round); slowest \(r.slowestAfterStore) ms after it was there; at most \(r.mostRounds) rounds")
        }
    }

    /// A quiet network: the board stores its record on all of the 20 closest nodes; every joiner finds it, the
    /// early ones by looking again every 2 s, those that start after it is stored in their first round.
    func testJoinersFindTheBoardsRecord() {
        check("testJoinersFindTheBoardsRecord", loss: 0, blackHoles: 0, minimumOnClosest: KadLookup.k)
        for seed in SimSeeds.forTest("testJoinersFindTheBoardsRecord", fresh: 1) {
            let r = Self.run(seed: seed, loss: 0, blackHoles: 0, lookAgain: true)
            XCTAssertEqual(r.foundInFirstRound, r.lateJoiners, SimSeeds.replay(seed, "DHTSimulationTests/testJoinersFindTheBoardsRecord"))
        }
    }

    /// 20 % packet loss (sent again as TCP does) and 10 black-holed nodes: the record still reaches most of the
    /// closest live nodes and every joiner finds it.
    func testJoinersFindTheRecordUnderLossAndBlackHoles() {
        check("testJoinersFindTheRecordUnderLossAndBlackHoles", loss: 0.2, blackHoles: 10, minimumOnClosest: 15)
    }

    /// The control: joiners that do not look again after an empty round. Those that started before the record was
    /// stored never find it.
    func testOneRoundOnlyMissesAnEarlyRecord() {
        let seed = SimSeeds.forTest("testOneRoundOnlyMissesAnEarlyRecord", fresh: 1)[0]
        let r = Self.run(seed: seed, loss: 0, blackHoles: 0, lookAgain: false)
        XCTAssertGreaterThan(r.earlyJoiners, 0, SimSeeds.replay(seed, "DHTSimulationTests/testOneRoundOnlyMissesAnEarlyRecord"))
        XCTAssertLessThanOrEqual(r.found, Self.joiners - r.earlyJoiners / 2, SimSeeds.replay(seed, "DHTSimulationTests/testOneRoundOnlyMissesAnEarlyRecord"))
        print("one round only, seed \(seed): \(r.found)/\(Self.joiners) found it, \(r.earlyJoiners) started before it was stored")
    }

    /// The schedule's transitions one by one, without the model.
    func testTheSchedule() {
        var board = DHTSchedule.publishing
        XCTAssertEqual(board.request, .findNode)
        XCTAssertEqual(board.roundEnded(now: 100, anyAnswered: true), .closestFound)
        XCTAssertEqual(board.reservationEnded(held: false), .nothing, "a relay that drops out before anyone waits on it changes nothing")
        board.reserving(until: 10_100)
        XCTAssertNil(board.request, "no requests while the board waits for its relay")
        XCTAssertEqual(board.reservationEnded(held: false), .askNext, "a refusal while the record waits: the next relay")
        XCTAssertEqual(board.reservationEnded(held: true), .askNext)
        XCTAssertEqual(board.due(now: 5_000, relayDecided: false, idle: true), .nothing)
        XCTAssertEqual(board.due(now: 10_100, relayDecided: false, idle: true), .put(relayTimedOut: true))
        XCTAssertEqual(board.due(now: 200, relayDecided: true, idle: true), .put(relayTimedOut: false))
        board.putting()
        XCTAssertEqual(board.request, .putValue)
        XCTAssertEqual(board.roundEnded(now: 300, anyAnswered: true), .stored)
        XCTAssertEqual(board.reservationEnded(held: true), .republish, "the stored record's circuit leads nowhere now")
        XCTAssertEqual(board.reservationEnded(held: false), .nothing, "a refusal after the record went out without a relay")
        XCTAssertNil(board.request)
        XCTAssertNil(board.wakeAt)
        var lonely = DHTSchedule.publishing
        XCTAssertEqual(lonely.roundEnded(now: 100, anyAnswered: false), .noPeerAnswered)
        XCTAssertEqual(lonely.phase, .stored)

        var joiner = DHTSchedule.searching
        XCTAssertEqual(joiner.rounds, 1)
        XCTAssertEqual(joiner.request, .getValue)
        XCTAssertEqual(joiner.roundEnded(now: 1_000, anyAnswered: true), .resting)
        XCTAssertNil(joiner.request)
        XCTAssertEqual(joiner.wakeAt, 3_000)
        XCTAssertEqual(joiner.due(now: 2_999, relayDecided: false, idle: true), .nothing)
        XCTAssertEqual(joiner.due(now: 3_000, relayDecided: false, idle: true), .lookAgain)
        XCTAssertEqual(joiner.rounds, 2)
        XCTAssertEqual(joiner.request, .getValue)
        XCTAssertTrue(joiner.recordOpened(sequence: 5, now: 4_000))
        XCTAssertFalse(joiner.recordOpened(sequence: 5, now: 4_100), "the record every peer of the round has is news once")
        XCTAssertFalse(joiner.recordOpened(sequence: 4, now: 4_100), "an older record brings nothing")
        XCTAssertEqual(joiner.opened, 5)
        XCTAssertNil(joiner.request)
        XCTAssertNil(joiner.wakeAt, "a found record's retry is checked on the loop's turns, not woken for")
        XCTAssertEqual(joiner.due(now: 9_000, relayDecided: false, idle: false), .nothing, "never while a candidate is dialled or waits")
        XCTAssertEqual(joiner.due(now: 5_999, relayDecided: false, idle: true), .nothing)
        XCTAssertEqual(joiner.due(now: 6_000, relayDecided: false, idle: true), .lookAgain)
        XCTAssertEqual(joiner.rounds, 3)
    }
}
