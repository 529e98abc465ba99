import Agent
import CSupport
import EventLoop

/// One pairing driven from the embedder's own loop: the `AvahiPoll` idea turned around. The session says which
/// descriptors it waits on and by when it must run again; the embedder polls them beside its own and hands back
/// what poll reported. Nothing here blocks, and nothing is allocated per step.
///
///     let session = try agent.beginPairingAsJoiner(code: code) { state in ui.show(state) }
///     while session.prepare(now: PairingSession.now()) == nil {
///         // poll session.descriptors (with your own) until session.deadline; poll writes their revents
///         session.step(now: PairingSession.now())
///     }
///
/// `PairingAgent.startPairingAsInitiator` and `startPairingAsJoiner` are this loop with `poll()` itself. Use a session
/// from one thread at a time; `PairingAgent.cancel()` still ends it from any thread (its wake pipe is a descriptor
/// of the session's).
public final class PairingSession {
    private var node: Node?
    private let completed: PairingAgent.Completed
    private var release: (() -> Void)?
    private var set = PollSet()
    private let storage = UnsafeMutableBufferPointer<pollfd>.allocate(capacity: PollSet.capacity)
    private var count = 0

    /// How the pairing ended; nil while it runs.
    public private(set) var result: PairingResult? = nil
    /// When `step` is due at the latest, in `now()`'s milliseconds (at most a second after the `prepare` that set it).
    public private(set) var deadline: UInt64 = 0

    init(node: Node, completed: PairingAgent.Completed, release: @escaping () -> Void) {
        self.node = node
        self.completed = completed
        self.release = release
    }

    deinit {
        end()
        storage.deallocate()
    }

    /// The monotonic clock the session's times are in (CLOCK_MONOTONIC, milliseconds).
    public static func now() -> UInt64 { MonotonicClock.milliseconds() }

    /// What to poll until `deadline`: each entry's `fd` and `events` as the last `prepare` set them; the poll writes
    /// `revents`. Valid until the next `prepare`.
    public var descriptors: UnsafeMutableBufferPointer<pollfd> { UnsafeMutableBufferPointer(rebasing: storage[0..<count]) }

    /// Runs what is due at `now` and sets `descriptors` and `deadline`. Returns the result once the pairing is over.
    @discardableResult
    public func prepare(now: UInt64) -> PairingResult? {
        guard result == nil, let node else { return result }
        if let outcome = node.prepare(&set, now: now) { return finish(outcome) }
        count = set.count
        for k in 0..<count { storage[k] = set.entry(k) }
        deadline = node.wakeAt
        return nil
    }

    /// Handles what `descriptors`' `revents` say is ready (all zero: only the time moved). Returns the result when the
    /// pairing ended here.
    @discardableResult
    public func step(now: UInt64) -> PairingResult? {
        guard result == nil, let node else { return result }
        for k in 0..<count { set.returned(k, events: storage[k].revents) }
        if let outcome = node.step(set, now: now) { return finish(outcome) }
        return nil
    }

    /// The blocking calls: the node's own loop over the same `prepare` and `step`, with `poll()` itself.
    func run() -> PairingResult {
        guard result == nil, let node else { return result! }
        return finish(node.loop())
    }

    private func finish(_ outcome: NodeOutcome) -> PairingResult {
        let r = PairingAgent.result(outcome, completed.value)
        result = r
        end()
        return r
    }

    /// Closes the node's sockets and frees the agent for its next pairing (once).
    private func end() {
        node = nil
        count = 0
        release?()
        release = nil
    }
}
