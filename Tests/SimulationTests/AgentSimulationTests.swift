import Agent
import Crypto
import Discovery
import EventLoop
import Pairing
import Transport
import Wire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Whole agents in the simulator: every board and every joiner is the agent itself (`Node`, as `sd-pair serve` and
/// `sd-pair join` run it: Noise, yamux, multistream, the pairing exchange, admission, dialling, timeouts), stepped
/// through `prepare` and `step` by a virtual clock, with its sockets on `SimNet` and libsodium's randomness drawn from
/// the seed. Nothing here reads the real clock or touches the kernel's network; one seed is one run, and a failing run
/// prints the seed that replays it.
///
/// On one simulated LAN: `n` boards each open a window with its own code; `n` joiners each type one board's code.
/// Each joiner's discovery (modelled: mDNS or the DHT would hand these over, and hands them again every few seconds
/// until the code expires) finds its board, a stale address of it that black-holes, and an impostor: another board,
/// answering under a copied record. Hostile hosts flood the boards with connections that stay silent, send garbage,
/// stop after the protocol header, drip a byte at a time, or complete Noise and yamux and then only hold; each
/// reconnects when a board drops it, until its budget is spent.
///
/// Asserted: every joiner pairs with its own board and every board with its own joiner; none crosses; no hostile
/// connection outlives its timeout (the handshake's, or once established the idle one); no joiner waits behind the
/// flood (one that its board dropped mid-handshake to make room, now and then, counts from when discovery hands its
/// address back: the finding in THREAT-MODEL); the run is the same twice from one seed.
final class AgentSimulationTests: XCTestCase {
    final class Agent {
        var node: Node?
        var set = PollSet()
        var wakeAt: UInt64 = .max
        /// The earliest wake the world holds for this agent (nil: none).
        var pendingWake: UInt64? = nil
        var outcome: NodeOutcome? = nil
        /// The device id its PAIRED line named, and when.
        var paired: String? = nil
        var pairedAt: UInt64 = 0
        let startAt: UInt64
        var started = false
        /// It logged making room in a full table (counted once per board).
        var madeRoom = false
        /// A joiner: when its own board last closed its connection before the exchange (to make room for a newcomer in
        /// a full table), if it did.
        var droppedByBoardAt: UInt64? = nil

        init(node: Node, startAt: UInt64) {
            self.node = node
            self.startAt = startAt
        }
    }

    /// HostilePeerTests' attacks, as a simulated host makes them: `silent` connects and says nothing (`parallel`);
    /// `garbage` sends random bytes; `header` stops after the protocol header (`truncate`); `drip` sends a byte every
    /// 2 s; `established` completes Noise and yamux as any libp2p peer can, then only holds the connection (`hold`,
    /// the review's finding 1: four of these locked every joiner out).
    enum Attack: CaseIterable { case silent, garbage, header, drip, established }

    struct HostileConnection {
        var socket: Int32 = -1
        var connectedAt: UInt64? = nil
        var establishedAt: UInt64? = nil
        /// `established`: its side of Noise and yamux, over buffers of its own.
        var secure: SecureConnection<SystemRandom>? = nil
        var buffers: UnsafeMutableRawBufferPointer? = nil
        /// When it next acts (reconnects, drips); .max: it has said all it will.
        var nextAt: UInt64 = 0
    }

    struct Hostile {
        var attack: Attack
        var board: Int
        var connections = [HostileConnection](repeating: HostileConnection(), count: AgentSimulationTests.parallel)
        /// Connections it may still open.
        var left: Int
    }

    /// Connections a hostile host holds at once (a board keeps two per source under pressure: two hosts per board
    /// fill its table of four).
    static let parallel = 3

    struct Result {
        var pairedRight = 0
        var boardsPairedRight = 0
        var crossed = 0
        var failed: [String] = []
        var hostileConnections = 0
        var longestHeld: UInt64 = 0
        var lastPairing: UInt64 = 0
        /// The longest a joiner took from its start to its PAIRED line (joiners their board never dropped).
        var slowestJoiner: UInt64 = 0
        /// Joiners whose own board dropped their connection before the exchange, and the longest one of them took
        /// from the moment discovery handed it the board's address again to its PAIRED line.
        var droppedJoiners = 0
        var slowestAfterDrop: UInt64 = 0
        var establishedHostile = 0
        /// Hostile connections a board kept past its rule: the handshake timeout, or for an established one the
        /// idle timeout (stream data is the only activity; keep-alives are not).
        var heldTooLong = 0
        /// Boards that logged dropping connections to make room (a full table), joiners' tries of the impostor and of
        /// the dead address, pairings the board recorded whose last message was lost for good with its connection.
        var boardsEvicting = 0
        var impostorTries = 0
        var staleTries = 0
        var unconfirmed = 0
        var broken = 0
        /// The boards' "did not confirm" warnings (security review finding 10): one for each unconfirmed pairing, and
        /// under loss also for some whose confirmation was only late (the board stops waiting 2 s after PAIRED).
        var warned = 0
        var steps = 0
        var trace: UInt64 = 0
    }

    static let port: UInt16 = 4001

    static func ip4(_ host: Int) -> Multiaddr.Host {
        var bytes = FixedBytes<4>()
        bytes.withUnsafeMutableBytes { $0[0] = 10; $0[1] = 0; $0[2] = UInt8(host >> 8); $0[3] = UInt8(host & 255) }
        return .ip4(bytes)
    }

    static func run(seed: UInt64, pairs n: Int, hostileHosts: Int, connectionsEach: Int, loss: Double) -> Result {
        let net = SimNet(seed: seed)
        return net.run(random: seed ^ 0x5eed) { simulate(net, pairs: n, hostileHosts: hostileHosts, connectionsEach: connectionsEach, loss: loss) }
    }

    static func simulate(_ net: SimNet, pairs n: Int, hostileHosts: Int, connectionsEach: Int, loss: Double) -> Result {
        net.world.latency = 1
        net.world.jitter = 20
        net.world.loss = loss
        // The clock starts where a board's monotonic clock usually is: well after boot. (Near 0 the first eviction's
        // log line waits for the eviction log's interval to pass, which the boards' "made room" count reads.)
        let epoch: UInt64 = 1_000_000
        net.world.now = epoch
        let policy = try! WindowPolicy()
        let expiry = UInt64(policy.expirySeconds) * 1000
        var result = Result()
        var agents: [Agent] = []
        var devices: [String] = []
        var candidates: [[Candidate]] = []
        var discoveries: [Discovery] = []
        let staleHost = 2 * n + hostileHosts  // an address a board once had: nobody answers there
        net.world.blackHoles.insert(staleHost)

        /// The PAIRED line names the other device: who paired with whom, and when.
        func sink(_ agent: @escaping () -> Agent?) -> (String) -> Void {
            { line in
                guard line.hasPrefix("PAIRED "), let a = agent(), a.paired == nil else { return }
                a.paired = String(line.split(separator: " ")[1])
                a.pairedAt = net.world.now
            }
        }

        // Boards: hosts 0..<n, each listening on its address with its window open from time 0.
        var boardPeers: [PeerID] = []
        var codes: [PairingCode] = []
        for b in 0..<n {
            var entropy = FixedBytes<16>()
            entropy.withUnsafeMutableBytes { net.world.random.fill($0) }
            let code = PairingCode(entropy: entropy)
            let identity = Ed25519.KeyPair.generate(using: &net.world.random)
            let device = PairingSimulationTests.device("Board " + String(b), &net.world.random)
            devices.append(device.deviceID.uuidString)
            let window = InitiatorWindow(code: code, localDevice: device, policy: policy, now: Instant(milliseconds: epoch), random: SystemRandom())
            weak var me: Agent?
            let node = Node(identity: identity, task: .serve(window: window, echo: false), say: sink { me }, log: { line in
                if line.hasPrefix("connection table full"), let a = me, !a.madeRoom {
                    a.madeRoom = true
                    result.boardsEvicting += 1
                }
                if line.hasPrefix("warning: ") && line.contains("did not confirm") { result.warned += 1 }
            })
            node.portMapping = false
            net.caller = b
            guard case .success = node.listen(Multiaddr(host: ip4(b), port: port)) else { fatalError("a board could not listen") }
            let agent = Agent(node: node, startAt: epoch)
            me = agent
            agents.append(agent)
            boardPeers.append(PeerID(publicKey: identity.publicKey))
            codes.append(code)
        }
        // Joiners: hosts n..<2n, starting into the flood (between 0.5 and 8 s, one in ten between 20 and 40 s); joiner j types board j's code.
        for j in 0..<n {
            let identity = Ed25519.KeyPair.generate(using: &net.world.random)
            let device = PairingSimulationTests.device("Joiner " + String(j), &net.world.random)
            devices.append(device.deviceID.uuidString)
            // One joiner in ten comes late, so that its board meets the flood for longer than its timeouts.
            let startAt = epoch + (net.world.random.chance(0.1) ? 20_000 + net.world.random.below(20_000) : 500 + net.world.random.below(7_500))
            let session = JoinerSession(code: codes[j], identity: identity, localDevice: device, policy: policy, now: Instant(milliseconds: startAt))
            weak var me: Agent?
            let discovery = Discovery(mdns: false, log: { _ in })
            discoveries.append(discovery)
            let own = "trying /ip4/" + SimNet.address(j) + "/"
            let stale = "trying /ip4/" + SimNet.address(staleHost) + "/"
            let ownFailed = "candidate failed: /ip4/" + SimNet.address(j) + "/"
            let node = Node(identity: identity, task: .join(session: session, peer: nil), discovery: discovery, say: sink { me }, log: { line in
                if line.hasPrefix(ownFailed) { me?.droppedByBoardAt = net.world.now }
                guard line.hasPrefix("trying ") else { return }
                if line.hasPrefix(stale) { result.staleTries += 1 } else if !line.hasPrefix(own) { result.impostorTries += 1 }
            })
            node.portMapping = false
            let agent = Agent(node: node, startAt: startAt)
            me = agent
            agents.append(agent)
            var impostor = Int(net.world.random.below(UInt64(n - 1)))
            if impostor >= j { impostor += 1 }
            var found = [
                Candidate(address: Multiaddr(host: ip4(j), port: port, peer: boardPeers[j]), source: .dht),
                Candidate(address: Multiaddr(host: ip4(staleHost), port: port, peer: boardPeers[j]), source: .dht),
                Candidate(address: Multiaddr(host: ip4(impostor), port: port, peer: boardPeers[impostor]), source: .dht),
            ]
            for i in stride(from: 2, to: 0, by: -1) { found.swapAt(i, Int(net.world.random.below(UInt64(i + 1)))) }
            candidates.append(found)
        }
        for c in codes.indices { codes[c].wipe() }

        // Hostile hosts: 2n..<2n + hostileHosts, host h against board h % n, beginning within the first 500 ms.
        var hostiles: [Hostile] = []
        let hostileIdentity = Ed25519.KeyPair.generate(using: &net.world.random)
        for h in 0..<hostileHosts {
            let attack = Attack.allCases[Int(net.world.random.below(UInt64(Attack.allCases.count)))]
            hostiles.append(Hostile(attack: attack, board: h % n, left: connectionsEach))
            for c in 0..<Self.parallel {
                hostiles[h].connections[c].nextAt = epoch + net.world.random.below(500)
                net.world.schedule(.wake(2 * n + h), for: 2 * n + h, at: hostiles[h].connections[c].nextAt)
            }
        }

        func wake(_ host: Int, at: UInt64) { net.world.schedule(.wake(host), for: host, at: at) }

        /// A hostile host's turn: for each of its connections, connect, attack, or notice that the board dropped it
        /// (and come back after a moment, while its budget lasts).
        func act(_ h: Int) {
            let host = 2 * n + h
            let now = net.world.now
            net.caller = host
            for c in 0..<Self.parallel {
                var conn = hostiles[h].connections[c]
                defer { hostiles[h].connections[c] = conn }
                guard conn.socket >= 0, let i = net.socket(conn.socket) else {
                    if hostiles[h].left > 0 && now >= conn.nextAt {
                        hostiles[h].left -= 1
                        conn = HostileConnection(socket: net.connect(from: host, to: hostiles[h].board, port: port))
                    }
                    continue
                }
                if conn.secure != nil {
                    while case let space = conn.secure!.receiveSpace(), space.count > 0, case let got = net.read(conn.socket, into: space), got > 0 {
                        conn.secure!.received(got)
                    }
                    while let event = (try? conn.secure!.poll()) ?? nil {
                        if case .established = event {
                            result.establishedHostile += 1
                            conn.establishedAt = now
                        }
                    }
                } else {
                    var scratch = [UInt8](repeating: 0, count: 4096)
                    while scratch.withUnsafeMutableBytes({ net.read(conn.socket, into: $0) }) > 0 {}
                }
                if net.sockets[i].error != 0 || net.sockets[i].finReceived {
                    // How long the board kept it, by the board's clock: from reaching its listener to its close.
                    // An established one, from its handshake's end: the board's idle timer starts when the last
                    // Noise message reaches it, which a lossy path delays by up to TCP's retransmissions.
                    let board = net.sockets[i].peer
                    if conn.connectedAt != nil, board >= 0, let closedAt = net.sockets[board].closedAt {
                        let since = conn.establishedAt ?? net.sockets[board].openedAt
                        let held = closedAt > since ? closedAt - since : 0  // evicted before its handshake's end arrived
                        let limit = conn.establishedAt == nil ? AgentLimits.handshakeTimeoutMilliseconds
                            : AgentLimits.handshakeTimeoutMilliseconds * AgentLimits.idleTimeoutFactor + net.world.longestRetransmission
                        result.longestHeld = max(result.longestHeld, held)
                        if held > limit + 1_000 { result.heldTooLong += 1 }
                    }
                    net.close(conn.socket)
                    conn.buffers?.deallocate()
                    conn = HostileConnection(nextAt: now + 500 + net.world.random.below(1_500))
                    wake(host, at: conn.nextAt)
                    continue
                }
                guard net.sockets[i].connected else { continue }
                if conn.connectedAt == nil {
                    conn.connectedAt = now
                    result.hostileConnections += 1
                }
                switch hostiles[h].attack {
                case .silent:
                    break
                case .garbage where conn.nextAt != .max:
                    var junk = [UInt8](repeating: 0, count: 64)
                    junk.withUnsafeMutableBytes { net.world.random.fill($0) }
                    _ = junk.withUnsafeBytes { net.write(conn.socket, $0) }
                    conn.nextAt = .max
                case .header where conn.nextAt != .max:
                    let header = Array("\u{13}/multistream/1.0.0\n".utf8)
                    _ = header.withUnsafeBytes { net.write(conn.socket, $0) }
                    conn.nextAt = .max
                case .established where conn.secure == nil:
                    let size = SecureConnection<SystemRandom>.bufferSize
                    let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * size, alignment: 16)
                    var random = SystemRandom()
                    conn.buffers = buffers
                    conn.secure = SecureConnection(role: .dialer, identity: hostileIdentity, random: &random,
                        rx: UnsafeMutableRawBufferPointer(rebasing: buffers[0..<size]), tx: UnsafeMutableRawBufferPointer(rebasing: buffers[size...]))
                    try? conn.secure!.start()
                case .drip where now >= conn.nextAt:
                    _ = [UInt8(19)].withUnsafeBytes { net.write(conn.socket, $0) }
                    conn.nextAt = now + 2_000
                    wake(host, at: conn.nextAt)
                default:
                    break
                }
                if let out = conn.secure?.pendingOutput, !out.isEmpty {
                    conn.secure!.sent(net.write(conn.socket, out))
                }
            }
        }

        /// Joiner `j`'s discovery hands over what it found (a queued candidate is not queued twice).
        func found(_ j: Int) {
            for c in candidates[j] { _ = discoveries[j].fromDHT.push(c) }
            net.touched.insert(n + j)
        }

        /// One turn of agent `k` at the world's time, as its loop would take it after poll.
        func turn(_ k: Int) {
            let agent = agents[k]
            guard let node = agent.node, agent.outcome == nil else { return }
            let now = net.world.now
            net.caller = k
            result.steps += 1
            if !agent.started {
                agent.started = true
                if k >= n { found(k - n) }
                node.start(signals: nil, now: now)
            } else {
                for slot in 0..<agent.set.count {
                    let entry = agent.set.entry(slot)
                    agent.set.returned(slot, events: net.revents(entry.fd, entry.events))
                }
                agent.outcome = node.step(agent.set, now: now)
            }
            if agent.outcome == nil { agent.outcome = node.prepare(&agent.set, now: now) }
            if agent.outcome != nil {
                agent.node = nil  // the process ends: its sockets close
                return
            }
            agent.wakeAt = node.wakeAt
            if agent.pendingWake.map({ agent.wakeAt < $0 }) ?? true {
                agent.pendingWake = agent.wakeAt
                wake(k, at: agent.wakeAt)
            }
        }

        /// Whether poll would return at once for agent `k` (its sockets have news it asked for).
        func ready(_ k: Int) -> Bool {
            let agent = agents[k]
            guard agent.node != nil, agent.outcome == nil, agent.started else { return false }
            for slot in 0..<agent.set.count {
                let entry = agent.set.entry(slot)
                if net.revents(entry.fd, entry.events) != 0 { return true }
            }
            return false
        }

        for k in agents.indices { wake(k, at: agents[k].startAt) }
        // Discovery, modelled: what it found, handed over at the start and again every 3 s until the code expires.
        var rediscoverAt = epoch + 3_000
        var rediscovered: [UInt64] = []

        for _ in 0..<20_000_000 {
            guard let t = net.world.nextAt, t <= epoch + expiry + 5_000 else { break }
            var due: Set<Int> = []
            while let at = net.world.nextAt, at == t, let d = net.world.next() {
                if case .wake(let host) = d.message {
                    if host < 2 * n {
                        if agents[host].pendingWake == t { agents[host].pendingWake = nil }
                        if !agents[host].started || agents[host].wakeAt <= t { due.insert(host) }
                    } else {
                        due.insert(host)
                    }
                } else {
                    net.deliver(d.message)
                }
            }
            if t >= rediscoverAt {
                rediscoverAt += 3_000
                rediscovered.append(t)
                for j in 0..<n where agents[n + j].node != nil && agents[n + j].started { found(j) }
            }
            due.formUnion(net.touched)
            net.touched.removeAll()
            // Passes at one instant: an agent with more to read, or due again at once, goes again (bounded).
            for _ in 0..<8 {
                guard !due.isEmpty else { break }
                for k in due.sorted() {
                    if k >= 2 * n {
                        act(k - 2 * n)
                        continue
                    }
                    turn(k)
                }
                due = net.touched.filter { $0 >= 2 * n }
                net.touched.subtract(due)
                for k in 0..<2 * n where ready(k) || (agents[k].node != nil && agents[k].started && agents[k].outcome == nil && agents[k].wakeAt <= t) {
                    due.insert(k)
                }
            }
            net.touched.removeAll()
        }
        // Hostile connections still open when the run ends give their buffers back.
        for h in hostiles.indices {
            for c in hostiles[h].connections { c.buffers?.deallocate() }
        }

        for k in 0..<2 * n {
            let other = k < n ? n + k : k - n
            if agents[k].paired == devices[other] {
                if k < n { result.boardsPairedRight += 1 } else { result.pairedRight += 1 }
                result.lastPairing = max(result.lastPairing, agents[k].pairedAt - epoch)
                if k >= n, let dropped = agents[k].droppedByBoardAt {
                    // Its address comes back with discovery's next hand-over; from there the same bound holds.
                    result.droppedJoiners += 1
                    let again = rediscovered.first { $0 > dropped } ?? .max
                    result.slowestAfterDrop = max(result.slowestAfterDrop, agents[k].pairedAt > again ? agents[k].pairedAt - again : 0)
                } else if k >= n {
                    result.slowestJoiner = max(result.slowestJoiner, agents[k].pairedAt - agents[k].startAt)
                }
            } else if agents[k].paired != nil {
                result.crossed += 1
            } else if k >= n && agents[k - n].paired == devices[k] {
                result.unconfirmed += 1
            } else {
                result.failed.append((k < n ? "board " : "joiner ") + String(k % n))
            }
        }
        result.trace = net.world.trace
        result.broken = net.broken
        return result
    }

    /// A joiner's own address comes third at worst: two dial staggers (500 ms), then TCP, Noise, yamux, multistream
    /// and the pairing exchange, about ten round trips of at most 42 ms here. A joiner that had to wait for a slot
    /// behind the flood's connections would take one of their timeouts (10 s, or 30 s for an established one).
    static let slowestJoinerBound: UInt64 = 2 * AgentLimits.dialStaggerMilliseconds + 1_500

    func check(_ test: String, pairs: Int, hostileHosts: Int, connectionsEach: Int, loss: Double) {
        for seed in SimSeeds.forTest(test, fresh: 1) {
            let r = Self.run(seed: seed, pairs: pairs, hostileHosts: hostileHosts, connectionsEach: connectionsEach, loss: loss)
            let replay = SimSeeds.replay(seed, "SimulationTests.AgentSimulationTests/" + test)
            print("agent simulation, seed \(seed): \(pairs) boards and joiners, \(r.hostileConnections) hostile connections (\(r.establishedHostile) established; \(r.boardsEvicting) boards made room), \(Int(loss * 100)) % loss: \(r.pairedRight) joiners and \(r.boardsPairedRight) boards paired right, \(r.unconfirmed) unconfirmed (\(r.broken) connections broken; \(r.warned) warnings), \(r.crossed) crossed, failed: \(r.failed.prefix(5)); \(r.impostorTries) impostor and \(r.staleTries) dead-address tries; hostile connections held at most \(r.longestHeld) ms; last pairing at \(r.lastPairing) ms, slowest joiner \(r.slowestJoiner) ms; \(r.droppedJoiners) joiners dropped by their board mid-handshake, slowest after its address came back \(r.slowestAfterDrop) ms; \(r.steps) steps")
            XCTAssertEqual(r.crossed, 0, "a pairing crossed; " + replay)
            XCTAssertEqual(r.heldTooLong, 0, "a hostile connection outlived its timeout; " + replay)
            XCTAssertEqual(r.boardsPairedRight, pairs, "not every board paired with its own joiner; " + replay)
            XCTAssertGreaterThan(r.impostorTries, pairs / 4, "the impostors were not met: the test would prove nothing")
            XCTAssertGreaterThan(r.staleTries, pairs / 4, "the dead addresses were not met: the test would prove nothing")
            if loss == 0 {
                XCTAssertEqual(r.pairedRight, pairs, "not every joiner paired with its own board; " + replay)
                XCTAssertLessThanOrEqual(r.slowestJoiner, Self.slowestJoinerBound, "a joiner waited behind the flood; " + replay)
                // A board makes room by dropping the connection with the least handshake progress when no source holds
                // more than its share: now and then that is its own joiner's, a few milliseconds old (THREAT-MODEL).
                XCTAssertLessThanOrEqual(r.slowestAfterDrop, Self.slowestJoinerBound, "a dropped joiner waited behind the flood; " + replay)
                XCTAssertLessThanOrEqual(r.droppedJoiners, pairs / 100, "boards dropped their own joiners more than now and then; " + replay)
                XCTAssertGreaterThan(r.boardsEvicting, pairs / 2, "the flood did not fill the boards' tables: the test would prove nothing")
                XCTAssertGreaterThan(r.establishedHostile, pairs / 2, "no hostile connection got past Noise: the test would prove nothing")
            } else {
                // The two generals' case (PairingSimulationTests): the board recorded the joiner and said PAIRED, then
                // its last message was lost for good with the connection; the board warns that it did not confirm.
                XCTAssertEqual(r.pairedRight + r.unconfirmed, pairs, "not every joiner paired with its own board; " + replay)
                if r.broken == 0 { XCTAssertEqual(r.unconfirmed, 0, "unconfirmed without a broken connection; " + replay) }
                XCTAssertLessThanOrEqual(r.unconfirmed, 2, "more unconfirmed pairings than lost messages explain; " + replay)
                XCTAssertGreaterThanOrEqual(r.warned, r.unconfirmed, "a board did not say that a pairing did not confirm; " + replay)
            }
        }
    }

    func testAThousandBoardsAndJoinersPairAsWholeAgentsUnderAFlood() {
        check("testAThousandBoardsAndJoinersPairAsWholeAgentsUnderAFlood", pairs: 1_000, hostileHosts: 2_000, connectionsEach: 8, loss: 0)
    }

    func testWholeAgentsUnderTwentyPercentPacketLoss() {
        check("testWholeAgentsUnderTwentyPercentPacketLoss", pairs: 200, hostileHosts: 200, connectionsEach: 4, loss: 0.2)
    }

    /// The timeout rules on their own (the runs above meet each of them in whole agents: silent and dripping
    /// connections, established ones that only hold, dead addresses).
    func testTheTimeouts() {
        let t = LinkTimeouts(handshake: 10_000)
        XCTAssertEqual(t.idle, 30_000)
        XCTAssertEqual(t.opened(5), 10_005)
        XCTAssertEqual(t.moved(5, inbound: true), 30_005)
        XCTAssertEqual(t.moved(5, inbound: false), 10_005)
        func verdict(_ now: UInt64, established: Bool = false, inbound: Bool = false, connecting: Bool = false, toRelay: Bool = false, holds: Bool = false) -> LinkTimeouts.Verdict {
            LinkTimeouts.verdict(now: now, deadline: 100, LinkTimeouts.Facts(established: established, inbound: inbound, connecting: connecting, toRelay: toRelay), holdsRelay: holds)
        }
        XCTAssertEqual(verdict(99, connecting: true), .keep)
        XCTAssertEqual(verdict(100, connecting: true), .noAnswer)
        XCTAssertEqual(verdict(100, inbound: true), .handshakeStalled)
        XCTAssertEqual(verdict(100), .handshakeStalled)
        XCTAssertEqual(verdict(100, connecting: true, toRelay: true), .noAnswer, "a relay that never answered is reported")
        XCTAssertEqual(verdict(100, established: true, inbound: true), .idle)
        XCTAssertEqual(verdict(100, established: true), .silent)
        XCTAssertEqual(verdict(100, established: true, toRelay: true, holds: true), .keep)
        XCTAssertEqual(verdict(100, established: true, toRelay: true), .unneeded)
        var asked = false
        _ = LinkTimeouts.verdict(now: 100, deadline: 100, LinkTimeouts.Facts(established: true, inbound: true, connecting: false, toRelay: false), holdsRelay: { asked = true; return true }())
        XCTAssertFalse(asked, "the relay scan is asked only of a relay connection")
    }

    /// One seed is one run: the same deliveries at the same times, the same steps, the same pairings.
    func testOneSeedIsOneRun() {
        let seed = SimSeeds.forTest("testOneSeedIsOneRun", fresh: 1).last!
        let a = Self.run(seed: seed, pairs: 50, hostileHosts: 100, connectionsEach: 4, loss: 0.1)
        let b = Self.run(seed: seed, pairs: 50, hostileHosts: 100, connectionsEach: 4, loss: 0.1)
        let c = Self.run(seed: seed &+ 1, pairs: 50, hostileHosts: 100, connectionsEach: 4, loss: 0.1)
        print("agent simulation, seed \(seed) twice: traces \(a.trace) and \(b.trace), \(a.steps) and \(b.steps) steps; seed + 1: \(c.trace)")
        XCTAssertEqual(a.trace, b.trace, "two runs from one seed went differently; seed " + String(seed))
        XCTAssertEqual(a.steps, b.steps)
        XCTAssertEqual(a.lastPairing, b.lastPairing)
        XCTAssertEqual(a.hostileConnections, b.hostileConnections)
        XCTAssertNotEqual(a.trace, c.trace, "another seed, the same run: the trace would prove nothing")
    }
}
