import Foundation
import Registry
import SDPair
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The embeddable API (`SDPair.PairingAgent`) in this test process, pairing with the `sd-pair` command in another:
/// real TCP on loopback, the real registry files.
final class PairingAgentTests: AgentTestCase {
    /// Collects the callback's states from the pairing's thread.
    final class States: @unchecked Sendable {  // guarded by `lock`
        private let lock = NSLock()
        private var states: [PairingState] = []
        func append(_ s: PairingState) { lock.lock(); states.append(s); lock.unlock() }
        var all: [PairingState] { lock.lock(); defer { lock.unlock() }; return states }
        var names: [String] { all.map { $0.name.description } }
        var code: String? {
            for s in all { if case .waiting(let code, _, _) = s { return code } }
            return nil
        }
    }

    func configuration(_ state: String, name: String) -> PairingConfiguration {
        var c = PairingConfiguration(stateDirectory: state)
        c.deviceName = name
        c.listen = ["/ip4/127.0.0.1/tcp/0"]
        c.mdns = false
        return c
    }

    /// Runs the initiator on its own thread (the call blocks, as it would in a vendor's daemon thread).
    func startInitiator(_ agent: PairingAgent, _ states: States) -> (done: DispatchSemaphore, result: () -> PairingResult?) {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Thread.detachNewThread {
            box.value = agent.startPairingAsInitiator { states.append($0) }
            done.signal()
        }
        return (done, { box.value })
    }

    final class ResultBox: @unchecked Sendable {  // written once by the pairing thread before the semaphore
        var value: PairingResult? = nil
    }

    func waitForCode(_ states: States) -> String? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let code = states.code { return code }
            usleep(10_000)
        }
        return nil
    }

    func testEmbeddedInitiatorPairsWithTheCommand() throws {
        let state = stateDirectory()
        let agent = try PairingAgent(configuration(state, name: "Vendor NAS"))
        let states = States()
        let (done, result) = startInitiator(agent, states)
        guard let code = waitForCode(states), let address = agent.listeningAddresses.first else {
            agent.cancel()
            _ = done.wait(timeout: .now() + 10)
            return XCTFail("no window opened: \(states.all)")
        }
        XCTAssertTrue(address.hasSuffix("/p2p/" + agent.peerID), address)
        let joiner = try Spawned(host, ["join", code, "--peer", address, "--state-dir", stateDirectory(), "--name", "Laptop"])
        XCTAssertEqual(joiner.wait(), 0, joiner.stderr)
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        guard case .paired(let id, let name)? = result() else { return XCTFail("result: \(String(describing: result()))") }
        XCTAssertEqual(name, "Laptop")
        XCTAssertTrue(joiner.stdout.contains("PAIRED " + agent.deviceID + " Vendor NAS"), joiner.stdout)
        XCTAssertEqual(states.names, ["waiting", "challenge-sent", "completed"])
        XCTAssertEqual(try listed(state), [id], "recorded in the registry the command reads")
    }

    func testEmbeddedJoinerPairsWithTheCommand() throws {
        let nasState = stateDirectory()
        let nas = try Spawned(host, ["invite", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", nasState, "--name", "Box"])
        guard let address = nas.line(startingWith: "LISTEN "), let words = nas.line(startingWith: "CODE: ") else {
            return XCTFail("invite did not start: " + nas.stderr)
        }
        let agent = try PairingAgent(configuration(stateDirectory(), name: "Phone App"))
        let states = States()
        let result = try agent.startPairingAsJoiner(code: words.uppercased(), peer: address) { states.append($0) }
        guard case .paired(_, let name) = result else { return XCTFail("result: \(result) " + nas.stderr) }
        XCTAssertEqual(name, "Box")
        XCTAssertEqual(states.names, ["connecting", "request-sent", "challenge-received", "completed"])
        XCTAssertEqual(nas.wait(), 0, nas.stderr)
        XCTAssertTrue(nas.stdout.contains("PAIRED " + agent.deviceID + " Phone App"), nas.stdout)

        // The same code again: the window is closed, the joiner is refused.
        let again = try agent.startPairingAsJoiner(code: words, peer: address) { _ in }
        guard case .failed = again else { return XCTFail("\(again)") }
    }

    func testCancelEndsTheWindowAndTheCodeIsDead() throws {
        let agent = try PairingAgent(configuration(stateDirectory(), name: "Vendor NAS"))
        agent.cancel()  // a cancel with nothing running is forgotten, not kept for the next pairing
        let states = States()
        let (done, result) = startInitiator(agent, states)
        guard let code = waitForCode(states), let address = agent.listeningAddresses.first else { return XCTFail("no window") }
        agent.cancel()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "cancel ends the blocking call")
        XCTAssertEqual(result(), .cancelled)
        let joiner = try Spawned(host, ["join", code, "--peer", address, "--state-dir", stateDirectory()])
        XCTAssertEqual(joiner.wait(), 1, "nobody listens for the cancelled code")
    }

    func testBadInputIsATypedErrorNotACrash() throws {
        let state = stateDirectory()
        var c = configuration(state, name: "x")
        c.expirySeconds = 5
        XCTAssertThrowsError(try PairingAgent(c)) { XCTAssertEqual($0 as? PairingAgentError, .invalidSetting("expirySeconds must be 60–600 and maxFailedAttempts 1–100")) }
        c = configuration(state, name: "x")
        c.listen = ["localhost:4001"]
        XCTAssertThrowsError(try PairingAgent(c))
        c = configuration(state, name: "x")
        c.dhtBootstrap = ["/ip4/127.0.0.1/tcp/4001"]
        XCTAssertThrowsError(try PairingAgent(c), "a bootstrap peer needs its /p2p/ id")
        c = configuration(state, name: String(repeating: "n", count: 65))
        XCTAssertThrowsError(try PairingAgent(c))
        XCTAssertThrowsError(try PairingAgent(configuration("/proc/version/x", name: "x"))) {
            guard case .stateDirectory? = $0 as? PairingAgentError else { return XCTFail("\($0)") }
        }

        let agent = try PairingAgent(configuration(state, name: "x"))
        XCTAssertThrowsError(try agent.startPairingAsJoiner(code: "legal winner thank", peer: "/ip4/127.0.0.1/tcp/1") { _ in }) {
            guard case .invalidCode? = $0 as? PairingAgentError else { return XCTFail("\($0)") }
        }
        var quiet = configuration(stateDirectory(), name: "x")
        quiet.mdns = false
        XCTAssertThrowsError(try PairingAgent(quiet).startPairingAsJoiner(code: String(repeating: "abandon ", count: 11) + "about") { _ in }) {
            guard case .invalidSetting? = $0 as? PairingAgentError else { return XCTFail("\($0)") }
        }
        // Re-entered from its own callback: refused, the running pairing goes on (until the callback cancels it).
        let nested = ResultBox()
        let (done, result) = startInitiatorNesting(agent, States()) { nested.value = $0 }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(nested.value, .failed(reason: "a pairing is already running on this agent"))
        XCTAssertEqual(result(), .cancelled)
    }

    /// An initiator whose callback, on `.waiting`, tries to start a second pairing on the same agent, then cancels.
    func startInitiatorNesting(_ agent: PairingAgent, _ states: States, nested: @escaping @Sendable (PairingResult) -> Void)
        -> (done: DispatchSemaphore, result: () -> PairingResult?)
    {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Thread.detachNewThread {
            box.value = agent.startPairingAsInitiator { state in
                states.append(state)
                if case .waiting = state {
                    nested(agent.startPairingAsInitiator { _ in })
                    agent.cancel()
                }
            }
            done.signal()
        }
        return (done, { box.value })
    }
}
