import Agent
import Crypto
import Discovery
import Transport
import Wire
import XCTest

/// The joiner's dialling decisions (`Dialling`, with the agent's `CandidateQueue`) in the simulator: 1 000 joiners,
/// each finding its device's addresses (one of them sometimes stale, a black hole) among answers that black-hole,
/// refuse, belong to another device, or accept and then go silent (the security review's fake mDNS answers), while
/// DHT requests hold some of its four connection slots. The decisions and the queue are the agent's own; the
/// joiner's table and the addresses' behaviour are the model (the node's `dialNextCandidates` and `connected`
/// restated over it, with the agent's `Dialling.holds` and `stepsBack`). Each joiner must pair with its own device within a bound that follows from the rules (a dead
/// address ahead of the device costs at most `slowConnectMilliseconds`, not a timeout), not counting the time every
/// dial place was held by attempts the rules may not put back (measured apart: the finding in THREAT-MODEL), and the
/// loop must never be told to wake for nothing. Dialling one candidate at a time until each one ends (the control)
/// misses the bound.
final class DiallingSimulationTests: XCTestCase {
    enum Kind: CaseIterable { case device, lateDevice, blackHole, refused, otherDevice, silent }

    struct Address {
        let kind: Kind
        let candidate: Candidate
        /// The device's addresses share its peer id; every other answer has its own.
        let peer: PeerID
    }

    struct Attempt {
        let address: Int
        var candidate: Candidate
        var connecting = true
        let startedAt: UInt64
        let generation: Int
    }

    struct Joiner {
        var dialling = Dialling()
        var queue = CandidateQueue()
        var addresses: [Address] = []
        /// The four slots: an attempt, held by a DHT request until a time, or free.
        var attempts: [Attempt?] = [nil, nil, nil, nil]
        var heldUntil: [UInt64] = [0, 0, 0, 0]
        var generation = 0
        var deviceFoundAt: UInt64? = nil
        /// The answers queued before the device's first address, and the stale and late addresses: what the
        /// joiner's bound allows for.
        var ahead = 0
        var late = false
        var heldLongest: UInt64 = 0
        var pairedAt: UInt64? = nil
        var pairedWith: Kind? = nil
        var wakeAt: UInt64? = nil
        var lastStart: UInt64? = nil
        /// How long the device's address waited with every dial place held by attempts that may not be put back.
        var stalled: UInt64 = 0
        var stalledSince: UInt64? = nil
    }

    enum Event {
        case found(Int, Int)
        case answered(Int, slot: Int, generation: Int)
        case ended(Int, slot: Int, generation: Int, paired: Bool)
        case slotFreed(Int)
        case wake(Int)
    }

    /// A dialling policy: the agent's (`Dialling`), or the control.
    enum Policy { case dialling, oneAtATime }

    static let joiners = 1_000
    /// A round trip on the LAN, and how long a late device's connect takes (a busy Wi-Fi, a device waking up).
    static func rtt(_ r: inout SimRandom) -> UInt64 { 2 + r.below(longestRoundTrip - 1) }
    static let longestRoundTrip: UInt64 = 62
    static let lateConnect: ClosedRange<UInt64> = 1_200...2_500
    static let timeout = AgentLimits.handshakeTimeoutMilliseconds

    struct Result {
        var paired = 0
        var wrong = 0
        var unpaired = 0
        var overBound = 0
        var slowest: UInt64 = 0
        var spins = 0
        var tooMany = 0
        var twoOnOneDevice = 0
        var staggerBroken = 0
        var putBack = 0
        var stalledJoiners = 0
        var longestStall: UInt64 = 0
    }

    /// What the rules promise a joiner, from the moment its device's first address is found: each answer queued
    /// ahead of it costs at most `slowConnectMilliseconds` plus a round trip (a black hole is put back then, the rest
    /// end sooner: a refusal in one round trip, another device within a few; at most two go silent, and they hold
    /// two slots while the third keeps turning), the stagger between starts, DHT requests holding slots, and the
    /// pairing itself. A late device may be put back once (its connect looks dead) and then waits its turn behind
    /// every other answer, patiently.
    static func bound(_ j: Joiner) -> UInt64 {
        let perAnswer = AgentLimits.slowConnectMilliseconds + AgentLimits.dialStaggerMilliseconds + longestRoundTrip
        var bound = UInt64(j.ahead + 2) * perAnswer + j.heldLongest + 6 * longestRoundTrip
        if j.late { bound += UInt64(j.addresses.count) * perAnswer + lateConnect.upperBound }
        return bound
    }

    static func run(seed: UInt64, policy: Policy) -> (Result, [Joiner]) {
        var world = SimWorld<Event>(seed: seed)
        var js = [Joiner](repeating: Joiner(), count: joiners)
        var result = Result()
        for j in 0..<joiners {
            var key = FixedBytes<32>()
            key.withUnsafeMutableBytes { world.random.fill($0) }
            let device = PeerID(publicKey: Ed25519.PublicKey(bytes: key))
            let late = world.random.chance(0.1)
            let foundAt = world.random.below(3_000)
            // The device: IPv4 and sometimes IPv6; now and then a stale address (an old lease) answers nothing.
            var own: [Kind] = [late ? .lateDevice : .device]
            if world.random.chance(0.5) { own.append(late ? .lateDevice : .device) }
            if world.random.chance(0.3) { own.insert(.blackHole, at: 0) }
            for (n, kind) in own.enumerated() {
                let address = Multiaddr(host: .ip4(FixedBytes([10, UInt8(j >> 8), UInt8(j & 255), UInt8(1 + n)])!), port: 4001, peer: device)
                js[j].addresses.append(Address(kind: kind, candidate: Candidate(address: address, source: .mdns), peer: device))
                world.schedule(.found(j, js[j].addresses.count - 1), for: j, at: foundAt + UInt64(n))
            }
            // Other answers: up to eight, at most two of them silent after accepting.
            var silent = 0
            for n in 0..<Int(world.random.below(9)) {
                var kind: Kind = [.blackHole, .refused, .otherDevice, .silent][Int(world.random.below(4))]
                if kind == .silent { silent += 1 }
                if silent > 2 { kind = .refused }
                key.withUnsafeMutableBytes { world.random.fill($0) }
                let peer = PeerID(publicKey: Ed25519.PublicKey(bytes: key))
                let address = Multiaddr(host: .ip4(FixedBytes([10, UInt8(j >> 8), UInt8(j & 255), UInt8(100 + n)])!), port: 4001, peer: peer)
                js[j].addresses.append(Address(kind: kind, candidate: Candidate(address: address, source: .mdns), peer: peer))
                world.schedule(.found(j, js[j].addresses.count - 1), for: j, at: world.random.below(3_000))
            }
            js[j].late = late
            // DHT requests hold up to two slots for up to three seconds.
            for s in 0..<Int(world.random.below(3)) {
                js[j].heldUntil[s] = 1 + world.random.below(3_000)
                js[j].heldLongest = max(js[j].heldLongest, js[j].heldUntil[s])
                world.schedule(.slotFreed(j), for: j, at: js[j].heldUntil[s])
            }
        }

        /// Slot `s` as the agent's dialling sees an attempt (nil: no attempt there).
        func attempt(_ j: Int, _ s: Int) -> Dialling.Attempt? {
            js[j].attempts[s].map { Dialling.Attempt(expected: js[j].addresses[$0.address].peer, circuitTarget: nil, connecting: $0.connecting) }
        }
        func busy(_ j: Int, _ peer: PeerID?) -> Bool {
            guard let peer else { return false }
            return (0..<4).contains { attempt(j, $0).map { Dialling.holds($0, peer) } ?? false }
        }
        func freeSlot(_ j: Int, _ now: UInt64) -> Int? {
            (0..<4).first { js[j].attempts[$0] == nil && js[j].heldUntil[$0] <= now }
        }
        func table(_ j: Int) -> Dialling.Attempts {
            var a = Dialling.Attempts()
            for s in 0..<4 { if let t = js[j].attempts[s] { a.add(s, impatientSince: t.connecting && !t.candidate.patient ? t.startedAt : nil) } }
            return a
        }
        func close(_ j: Int, _ s: Int) {
            js[j].attempts[s] = nil
            js[j].generation += 1
        }
        func putBack(_ j: Int, _ s: Int) {
            guard var c = js[j].attempts[s]?.candidate else { return }
            c.patient = true
            js[j].queue.push(c)
            close(j, s)
            result.putBack += 1
        }
        func start(_ j: Int, _ c: Candidate, slot s: Int, now: UInt64) {
            let n = js[j].addresses.firstIndex { $0.candidate == c }!
            js[j].dialling.started(now: now)
            js[j].generation += 1
            let generation = js[j].generation
            js[j].attempts[s] = Attempt(address: n, candidate: c, startedAt: now, generation: generation)
            switch js[j].addresses[n].kind {
            case .device, .otherDevice, .silent:
                world.schedule(.answered(j, slot: s, generation: generation), for: j, at: now + rtt(&world.random))
            case .lateDevice:
                world.schedule(.answered(j, slot: s, generation: generation), for: j, at: now + lateConnect.lowerBound + world.random.below(lateConnect.upperBound - lateConnect.lowerBound))
            case .refused:
                world.schedule(.ended(j, slot: s, generation: generation, paired: false), for: j, at: now + rtt(&world.random))
            case .blackHole:
                world.schedule(.ended(j, slot: s, generation: generation, paired: false), for: j, at: now + timeout)
            }
        }
        /// The node's `dialNextCandidates`, over the model's table.
        func dialNext(_ j: Int, _ now: UInt64) {
            for _ in 0..<AgentLimits.parallelDials {
                guard js[j].pairedAt == nil else { return }
                let a = table(j)
                let waiting = js[j].queue.hasCandidate { busy(j, $0) }
                let free = freeSlot(j, now) != nil
                let next: Dialling.Next = switch policy {
                case .dialling: js[j].dialling.next(now: now, a, waiting: waiting, freeSlot: free)
                case .oneAtATime: waiting && free && a.inFlight == 0 ? .dial : .wait
                }
                switch next {
                case .wait: return
                case .makeRoom(let s): putBack(j, s)
                case .dial: break
                }
                var queue = js[j].queue  // popped outside the table, which `busy` reads
                let popped = queue.pop(skipping: { busy(j, $0) })
                js[j].queue = queue
                guard let s = freeSlot(j, now), let c = popped else { return }
                if let last = js[j].lastStart, a.inFlight > 0, now < last + AgentLimits.dialStaggerMilliseconds { result.staggerBroken += 1 }
                js[j].lastStart = now
                start(j, c, slot: s, now: now)
            }
        }

        while let d = world.next() {
            let now = world.now
            let j: Int
            switch d.message {
            case .found(let jj, let n):
                j = jj
                js[j].queue.push(js[j].addresses[n].candidate)
                if js[j].addresses[n].peer == js[j].addresses[0].peer {
                    if js[j].deviceFoundAt == nil {
                        js[j].deviceFoundAt = now
                        js[j].ahead = js[j].queue.count - 1
                    }
                    if js[j].addresses[n].kind == .blackHole { js[j].ahead += 1 }
                }
            case .answered(let jj, let s, let generation):
                j = jj
                guard let t = js[j].attempts[s], t.generation == generation, js[j].pairedAt == nil else { break }
                js[j].attempts[s]!.connecting = false
                // The node's `connected`: the attempts `Dialling.stepsBack` names go back to the queue.
                let peer = js[j].addresses[t.address].peer
                for o in 0..<4 where o != s {
                    if let other = attempt(j, o), Dialling.stepsBack(other, for: peer) { putBack(j, o) }
                }
                if (0..<4).filter({ js[j].attempts[$0].map { !$0.connecting && js[j].addresses[$0.address].peer == peer } ?? false }).count > 1 {
                    result.twoOnOneDevice += 1
                }
                switch js[j].addresses[t.address].kind {
                case .device, .lateDevice:
                    world.schedule(.ended(j, slot: s, generation: generation, paired: true), for: j, at: now + 4 * rtt(&world.random))
                case .otherDevice:
                    world.schedule(.ended(j, slot: s, generation: generation, paired: false), for: j, at: now + 3 * rtt(&world.random))
                default:  // silent: the node gives up when the device has not answered for a handshake timeout
                    world.schedule(.ended(j, slot: s, generation: generation, paired: false), for: j, at: now + timeout)
                }
            case .ended(let jj, let s, let generation, let paired):
                j = jj
                guard let t = js[j].attempts[s], t.generation == generation, js[j].pairedAt == nil else { break }
                if paired {
                    js[j].pairedAt = now
                    js[j].pairedWith = js[j].addresses[t.address].kind
                    for o in 0..<4 where js[j].attempts[o] != nil { close(j, o) }
                } else {
                    close(j, s)
                }
            case .slotFreed(let jj), .wake(let jj):
                j = jj
                if case .wake = d.message { js[j].wakeAt = nil }
            }
            // The node's turn: what is due, then when to wake.
            dialNext(j, now)
            if table(j).inFlight > AgentLimits.parallelDials { result.tooMany += 1 }
            guard policy == .dialling else { continue }
            let at = js[j].pairedAt != nil ? nil
                : js[j].dialling.wakeAt(table(j), waiting: js[j].queue.hasCandidate { busy(j, $0) }, freeSlot: freeSlot(j, now) != nil)
            if let at {
                // A wake that is not in the future, with the dials already done, would be a loop that spins.
                if at <= now { result.spins += 1; continue }
                if js[j].wakeAt.map({ at < $0 }) ?? true {
                    js[j].wakeAt = at
                    world.schedule(.wake(j), for: j, at: at)
                }
            }
            // Stalled: the device's address waits, and only news can start it (every dial place is held by an
            // attempt that may not be put back: an answer that accepted and went silent, or a patient retry).
            let device = js[j].addresses[0].peer
            let stalled = js[j].pairedAt == nil && at == nil && js[j].queue.hasCandidate { $0 != device || busy(j, $0) }
            if stalled && js[j].stalledSince == nil { js[j].stalledSince = now }
            if !stalled, let since = js[j].stalledSince {
                js[j].stalled += now - since
                js[j].stalledSince = nil
            }
        }
        for j in js {
            guard let pairedAt = j.pairedAt, let foundAt = j.deviceFoundAt else {
                result.unpaired += 1
                continue
            }
            if j.pairedWith != .device && j.pairedWith != .lateDevice { result.wrong += 1 }
            result.paired += 1
            result.slowest = max(result.slowest, pairedAt - foundAt)
            result.stalledJoiners += j.stalled > 0 ? 1 : 0
            result.longestStall = max(result.longestStall, j.stalled)
            if pairedAt - foundAt > bound(j) + j.stalled {
                result.overBound += 1
                // With SDPAIR_SIM_DEBUG set, each joiner over its bound: its time, bound, stall, answers ahead, lateness,
                // DHT hold and its answers' kinds in the order found (how the stall finding was read).
                if getenv("SDPAIR_SIM_DEBUG") != nil { print(pairedAt - foundAt, bound(j), j.stalled, j.ahead, j.late, j.heldLongest, j.addresses.map { "\($0.kind)" }) }
            }
        }
        return (result, js)
    }

    func testJoinersFindTheirDeviceAmongDeadAndFakeAnswers() {
        for seed in SimSeeds.forTest("testJoinersFindTheirDeviceAmongDeadAndFakeAnswers", fresh: 5) {
            let (r, _) = Self.run(seed: seed, policy: .dialling)
            let replay = SimSeeds.replay(seed, "DiallingSimulationTests/testJoinersFindTheirDeviceAmongDeadAndFakeAnswers")
            XCTAssertEqual(r.paired, Self.joiners, replay)
            XCTAssertEqual(r.wrong, 0, replay)
            XCTAssertEqual(r.overBound, 0, "joiners slower than their bound; " + replay)
            XCTAssertEqual(r.spins, 0, "wake times not in the future; " + replay)
            XCTAssertEqual(r.tooMany, 0, "more than parallelDials attempts at once; " + replay)
            XCTAssertEqual(r.twoOnOneDevice, 0, "two exchanges with one device at once; " + replay)
            XCTAssertEqual(r.staggerBroken, 0, "dials closer than the stagger; " + replay)
            XCTAssertGreaterThan(r.putBack, 0, "no black hole was ever put back: the scenario does not test the rule; " + replay)
            print("dialling seed \(seed): \(r.paired) paired, slowest \(r.slowest) ms after the device was found, \(r.putBack) put back, \(r.stalledJoiners) stalled (longest \(r.longestStall) ms)")
        }
    }

    /// The control: one candidate at a time, each until it ends. Every joiner still pairs (the queue and the rules
    /// for a device's addresses are the same), but a dead or silent answer ahead of the device costs a timeout.
    func testOneAtATimeMissesTheBound() {
        let seed = SimSeeds.forTest("testOneAtATimeMissesTheBound", fresh: 1)[0]
        let (r, _) = Self.run(seed: seed, policy: .oneAtATime)
        let replay = SimSeeds.replay(seed, "DiallingSimulationTests/testOneAtATimeMissesTheBound")
        XCTAssertEqual(r.paired, Self.joiners, replay)
        XCTAssertGreaterThan(r.overBound, Self.joiners / 4, replay)
        XCTAssertGreaterThan(r.slowest, 2 * Self.timeout, replay)
        print("one at a time, seed \(seed): \(r.overBound) of \(r.paired) over their bound, slowest \(r.slowest) ms")
    }

    /// The rules one by one, without the model.
    func testTheRules() {
        var d = Dialling()
        var none = Dialling.Attempts()
        // Nothing in flight: dial at once; nothing waiting: nothing to do, no wake.
        XCTAssertEqual(d.next(now: 0, none, waiting: true, freeSlot: true), .dial)
        XCTAssertEqual(d.next(now: 0, none, waiting: false, freeSlot: true), .wait)
        XCTAssertNil(d.wakeAt(none, waiting: true, freeSlot: true))
        d.started(now: 1_000)
        var one = Dialling.Attempts()
        one.add(2, impatientSince: 1_000)
        // The next start waits for the stagger.
        XCTAssertEqual(d.next(now: 1_100, one, waiting: true, freeSlot: true), .wait)
        XCTAssertEqual(d.wakeAt(one, waiting: true, freeSlot: true), 1_250)
        XCTAssertEqual(d.next(now: 1_250, one, waiting: true, freeSlot: true), .dial)
        // Three in flight: the connect unanswered longest gives up its place after slowConnect, not before.
        var three = Dialling.Attempts()
        three.add(0, impatientSince: 1_500)
        three.add(1, impatientSince: 1_000)
        three.add(3, impatientSince: nil)  // connected, or patient: never put back
        d.started(now: 1_500)
        XCTAssertEqual(three.slowest, 1)
        XCTAssertEqual(d.next(now: 1_749, three, waiting: true, freeSlot: true), .wait)
        XCTAssertEqual(d.wakeAt(three, waiting: true, freeSlot: true), 1_750)
        XCTAssertEqual(d.next(now: 1_750, three, waiting: true, freeSlot: true), .makeRoom(1))
        // A full table (DHT requests) with room under parallelDials: also only by making room.
        XCTAssertEqual(d.next(now: 1_600, one, waiting: true, freeSlot: false), .wait)
        XCTAssertEqual(d.next(now: 1_750, one, waiting: true, freeSlot: false), .makeRoom(2))
        // Nothing that could be put back: only news can help, so no wake (a wake would spin).
        none.add(0, impatientSince: nil)
        XCTAssertNil(d.wakeAt(none, waiting: true, freeSlot: false))
        XCTAssertEqual(d.next(now: 99_000, none, waiting: true, freeSlot: false), .wait)
    }

    /// A device's addresses race: once one attempt connected, the device is held and its other connects step back;
    /// another device's attempts, and a relayed attempt to the device, are told apart by the peer they reach.
    func testTheRaceBetweenADevicesAddresses() {
        let device = PeerID(publicKey: Ed25519.PublicKey(bytes: FixedBytes<32>(repeating: 1)))
        let other = PeerID(publicKey: Ed25519.PublicKey(bytes: FixedBytes<32>(repeating: 2)))
        let relay = PeerID(publicKey: Ed25519.PublicKey(bytes: FixedBytes<32>(repeating: 3)))
        let connected = Dialling.Attempt(expected: device, circuitTarget: nil, connecting: false)
        let connecting = Dialling.Attempt(expected: device, circuitTarget: nil, connecting: true)
        let throughRelay = Dialling.Attempt(expected: relay, circuitTarget: device, connecting: true)
        XCTAssertEqual(throughRelay.device, device)
        XCTAssertTrue(Dialling.holds(connected, device))
        XCTAssertFalse(Dialling.holds(connecting, device), "a connect under way holds nothing: the addresses race")
        XCTAssertFalse(Dialling.holds(connected, other))
        XCTAssertTrue(Dialling.stepsBack(connecting, for: device))
        XCTAssertTrue(Dialling.stepsBack(throughRelay, for: device), "the relay's circuit to the device is one of its addresses")
        XCTAssertFalse(Dialling.stepsBack(connected, for: device), "the winner goes on")
        XCTAssertFalse(Dialling.stepsBack(connecting, for: other))
    }
}
