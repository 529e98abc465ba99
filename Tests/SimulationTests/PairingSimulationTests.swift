import Crypto
import Pairing
import Wire
import XCTest

/// The pairing protocol at LAN scale in the simulator: 1 000 boards, each with its own window and code
/// (`InitiatorWindow`), 1 000 joiners (`JoinerSession`) each typing one board's code, all at once on one simulated
/// network. Each joiner also meets an impostor: another board answering under its session id, as a copied mDNS
/// record would (MDNSTests's fake services), tried first half of the time. Every message goes through the real
/// codec and framing; Noise is modelled by one round trip and a random channel binding per connection, with each
/// side's authenticated identity; the network has jitter (so messages reorder across connections) and 20 % packet
/// loss, TCP's way (sent again after a doubling timeout). Every joiner must pair with its own board, every window with
/// its own joiner, nobody with anyone else, and no impostor attempt may cost a window one of its failed attempts.
final class PairingSimulationTests: XCTestCase {
    enum Event {
        case open(Int)
        case frame(Int, toBoard: Bool, [UInt8])
        case giveUp(Int)
        /// The joiner closed attempt `a`: the board ends its handshake (the window stops counting its challenge).
        case close(Int)
    }

    struct Board {
        var window: InitiatorWindow<SimRandom>
        var identity: Ed25519.KeyPair
        var device: DeviceInfo
        var paired: PairedPeer? = nil
        var failedAttempts = 0
    }

    struct Joiner {
        var session: JoinerSession
        var identity: Ed25519.KeyPair
        var candidates: [Int]
        var next = 0
        var paired: PairedPeer? = nil
        var pairedAt: UInt64? = nil
        var attempts = 0
    }

    /// One joiner's attempt at one board: its copy of the session (as the agent keeps one per candidate) and the
    /// board's handshake for it.
    struct Attempt {
        let joiner: Int
        let board: Int
        var session: JoinerSession
        var handshake: InitiatorHandshake
        var binding: ChannelBinding
        var done = false
    }

    struct Result {
        var pairedRight = 0
        var crossed = 0
        var impostorAttempts = 0
        var windowsCharged = 0
        var slowest: UInt64 = 0
        var attempts = 0
        /// Joiners whose board recorded them, but whose connection broke before the board's `Complete` arrived (a
        /// message that TCP gave up on after its retries): the two generals' case. The agent's board says so (the
        /// pairing "did not confirm", security review finding 10) and a new window repairs it; nothing can make both
        /// sides sure over a connection that breaks at that moment.
        var unconfirmed = 0
        var lostForGood = 0
    }

    static func device(_ name: String, _ random: inout SimRandom) -> DeviceInfo {
        var id = FixedBytes<16>()
        id.withUnsafeMutableBytes { random.fill($0) }
        return try! DeviceInfo.make(deviceID: DeviceID(bytes: id), name: name, type: .server, osVersion: "sim", appVersion: "0")
    }

    static func run(seed: UInt64, pairs n: Int, loss: Double) -> Result {
        var world = SimWorld<Event>(seed: seed)
        world.latency = 1
        world.jitter = 40
        world.loss = loss
        let policy = try! WindowPolicy()
        var boards: [Board] = []
        var joiners: [Joiner] = []
        for b in 0..<n {
            var entropy = FixedBytes<16>()
            entropy.withUnsafeMutableBytes { world.random.fill($0) }
            let code = PairingCode(entropy: entropy)
            let identity = Ed25519.KeyPair.generate(using: &world.random)
            let window = InitiatorWindow(code: code, localDevice: device("Board " + String(b), &world.random), policy: policy, now: Instant(milliseconds: 0), random: SimRandom(seed: world.random.next()))
            boards.append(Board(window: window, identity: identity, device: window.localDevice))
            let joinerIdentity = Ed25519.KeyPair.generate(using: &world.random)
            let session = JoinerSession(code: code, identity: joinerIdentity, localDevice: device("Joiner " + String(b), &world.random), policy: policy, now: Instant(milliseconds: 0))
            var impostor = Int(world.random.below(UInt64(n - 1)))
            if impostor >= b { impostor += 1 }
            joiners.append(Joiner(session: session, identity: joinerIdentity, candidates: world.random.chance(0.5) ? [impostor, b] : [b, impostor]))
        }
        var attempts: [Attempt] = []
        var result = Result()
        var buffer = [UInt8](repeating: 0, count: 4200)

        func frame(_ message: PairingMessage) -> [UInt8] {
            buffer.withUnsafeMutableBytes { raw in Array(MessageFrame.encoded(message, into: raw)!) }
        }
        func decode(_ bytes: [UInt8]) -> PairingMessage? {
            bytes.withUnsafeBytes { wire -> PairingMessage? in
                guard case .frame(let range, _)? = try? MessageFrame.next(in: wire) else { return nil }
                return try? MessageCodec.decode(UnsafeRawBufferPointer(rebasing: wire[range]))
            }
        }
        /// The joiner's next candidate; when all have been tried, the first again 2 s later (the agent's joiner keeps
        /// finding the device, by mDNS and the DHT, until the code expires).
        func dial(_ j: Int) {
            guard joiners[j].paired == nil, world.now < UInt64(policy.expirySeconds) * 1000 else { return }
            guard joiners[j].next < joiners[j].candidates.count else {
                joiners[j].next = 0
                return world.schedule(.giveUp(-1 - j), for: j, at: world.now + 2_000)
            }
            let b = joiners[j].candidates[joiners[j].next]
            joiners[j].next += 1
            joiners[j].attempts += 1
            if b != j { result.impostorAttempts += 1 }
            var hash = FixedBytes<32>()
            hash.withUnsafeMutableBytes { world.random.fill($0) }
            let exporter = SymmetricKey.random(using: &world.random)
            let binding = ChannelBinding(handshakeHash: hash, exporter: exporter, remoteIdentity: boards[b].identity.publicKey)
            let boardSide = ChannelBinding(handshakeHash: hash, exporter: exporter, remoteIdentity: joiners[j].identity.publicKey)
            attempts.append(Attempt(joiner: j, board: b, session: joiners[j].session, handshake: InitiatorHandshake(binding: boardSide), binding: binding))
            let a = attempts.count - 1
            _ = attempts[a].session.connecting(now: Instant(milliseconds: world.now))
            // Noise XX and yamux: a round trip before the joiner's first message.
            world.send(.open(a), from: j, to: n + b)
            world.schedule(.giveUp(a), for: j, at: world.now + 10_000)
        }
        func end(_ a: Int) {
            guard !attempts[a].done else { return }
            attempts[a].done = true
            attempts[a].session.wipe()
            world.send(.close(a), from: attempts[a].joiner, to: n + attempts[a].board)
            dial(attempts[a].joiner)
        }

        for j in 0..<n { world.schedule(.giveUp(-1 - j), for: j, at: world.random.below(2_000)) }  // joiners start within 2 s
        for _ in 0..<1_000_000 {
            guard let d = world.next() else { break }
            let now = Instant(milliseconds: world.now)
            switch d.message {
            case .giveUp(let a) where a < 0:
                dial(-1 - a)
            case .giveUp(let a):
                if !attempts[a].done && joiners[attempts[a].joiner].paired == nil { end(a) }
            case .close(let a):
                boards[attempts[a].board].window.connectionClosed(&attempts[a].handshake)
            case .open(let a):
                world.send(.frame(a, toBoard: true, []), from: n + attempts[a].board, to: attempts[a].joiner)  // the handshake's answer
            case .frame(let a, true, let bytes) where bytes.isEmpty:
                _ = bytes
                guard !attempts[a].done, let request = attempts[a].session.connected(binding: attempts[a].binding, now: now).reply else { continue }
                world.send(.frame(a, toBoard: true, frame(request)), from: attempts[a].joiner, to: n + attempts[a].board)
            case .frame(let a, true, let bytes):
                let b = attempts[a].board
                guard let message = decode(bytes) else { continue }
                let step = boards[b].window.receive(message, on: &attempts[a].handshake, now: now)
                switch step.event {
                case .paired(let peer)?: boards[b].paired = peer
                case .attemptFailed?, .burned?: boards[b].failedAttempts += 1
                default: break
                }
                if let reply = step.reply { world.send(.frame(a, toBoard: false, frame(reply)), from: n + b, to: attempts[a].joiner) }
            case .frame(let a, false, let bytes):
                guard !attempts[a].done, let message = decode(bytes) else { continue }
                let j = attempts[a].joiner
                let step = attempts[a].session.receive(message, now: now)
                if let reply = step.reply { world.send(.frame(a, toBoard: true, frame(reply)), from: j, to: n + attempts[a].board) }
                switch step.event {
                case .paired(let peer)?:
                    joiners[j].paired = peer
                    joiners[j].pairedAt = world.now
                    if attempts[a].board == j { result.pairedRight += 1 } else { result.crossed += 1 }
                case .candidateFailed?, .failed?:
                    end(a)
                default: break
                }
            }
        }
        for b in 0..<n {
            // Each window paired its own joiner and nobody else.
            if let peer = boards[b].paired, peer.publicKey.bytes != joiners[b].identity.publicKey.bytes { result.crossed += 1 }
            if boards[b].failedAttempts > 0 { result.windowsCharged += 1 }
        }
        for j in 0..<n {
            if joiners[j].paired == nil, let peer = boards[j].paired, peer.publicKey.bytes == joiners[j].identity.publicKey.bytes,
                attempts.contains(where: { $0.joiner == j && $0.board == j && $0.session.state == .responseSent }) {
                result.unconfirmed += 1
            }
            if let peer = joiners[j].paired, peer.publicKey.bytes != boards[j].identity.publicKey.bytes { result.crossed += 1 }
            if let at = joiners[j].pairedAt { result.slowest = max(result.slowest, at) }
        }
        result.attempts = attempts.count
        result.lostForGood = world.dropped
        return result
    }

    func check(_ test: String, pairs: Int, loss: Double) {
        for seed in SimSeeds.forTest(test, fresh: 1) {
            let r = Self.run(seed: seed, pairs: pairs, loss: loss)
            let replay = SimSeeds.replay(seed, "SimulationTests.PairingSimulationTests/" + test)
            print("pairing simulation, seed \(seed): \(pairs) windows and joiners, \(Int(loss * 100)) % loss: \(r.pairedRight) paired right, \(r.unconfirmed) unconfirmed (\(r.lostForGood) messages lost for good), \(r.crossed) crossed, \(r.impostorAttempts) impostor attempts (\(r.windowsCharged) windows charged), last pairing at \(r.slowest) ms")
            XCTAssertEqual(r.pairedRight + r.unconfirmed, pairs, "not every joiner paired with its own board; " + replay)
            // Unconfirmed only where a connection broke (a message lost for good), and rarely: 20 % loss loses a
            // message for good about once in 15 600 (0.2^6), and only the last one of a pairing leaves this state.
            if r.lostForGood == 0 { XCTAssertEqual(r.unconfirmed, 0, "unconfirmed without a broken connection; " + replay) }
            XCTAssertLessThanOrEqual(r.unconfirmed, 2, "more unconfirmed pairings than lost messages explain; " + replay)
            XCTAssertEqual(r.crossed, 0, "a pairing crossed; " + replay)
            XCTAssertEqual(r.windowsCharged, 0, "an impostor attempt (another code) cost a window a failed attempt; " + replay)
            XCTAssertGreaterThan(r.impostorAttempts, pairs / 3, "the impostors were not met: the test would prove nothing")
        }
    }

    func testAThousandWindowsAndJoinersPairWithoutCrossing() {
        check("testAThousandWindowsAndJoinersPairWithoutCrossing", pairs: 1_000, loss: 0)
    }

    func testJoinersUnderTwentyPercentPacketLoss() {
        check("testJoinersUnderTwentyPercentPacketLoss", pairs: 1_000, loss: 0.2)
    }
}
