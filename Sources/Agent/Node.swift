import Crypto
import Discovery
import EventLoop
import CSupport
import Pairing
import Registry
import Transport
import Wire

/// What a node is for in this run.
public enum NodeTask {
    /// Answer connections; with a window, run the initiator's side of pairing.
    case serve(window: InitiatorWindow<SystemRandom>?, echo: Bool)
    /// Pair with the code: dial `peer` if given (and only it), else the candidates discovery finds.
    case join(session: JoinerSession, peer: Multiaddr?)
    /// Dial `peer` and ping it `count` times.
    case ping(peer: Multiaddr, count: Int)

    /// A joiner that looks for the device (mDNS, the DHT) rather than dialling one given address.
    var isDiscovering: Bool {
        if case .join(_, nil) = self { return true }
        return false
    }
}

/// How a run ended; the CLI maps it to an exit code.
public enum NodeOutcome: Equatable {
    case paired
    case pinged
    case interrupted
    case failed(String)
}

/// One agent process: a poll() loop over listeners and a fixed table of connections. Everything a connection
/// needs is allocated once, here, at start-up; after that, serving traffic allocates nothing per message.
public final class Node {
    struct AppStream {
        enum Kind {
            case free
            case negotiatingIn(MultistreamListener)
            case negotiatingOut(MultistreamDialer, then: Purpose)
            case active(Purpose)
        }
        /// hop: our request to a relay (reserve, or connect); stop: a relay's connect to us; circuit: the stream
        /// carries a relayed connection (`carried`).
        enum Purpose { case pairing, pingServer, pingClient, echo, kad, identifyServer, identifyClient, hop, stop, circuit, holePunch }

        var id: UInt32 = 0
        var kind: Kind = .free
        /// This stream slot's region of the node's arena (AgentLimits.streamBufferSize bytes).
        var buffer = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var count = 0
        var handshake: InitiatorHandshake? = nil
        var pingPayload = FixedBytes<32>()
        var pingSentAt: UInt64 = 0
        var pingsDone = 0
        /// A circuit stream: the link it carries.
        var carried = -1

        /// The bytes received and not yet consumed.
        var received: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<count]) }
    }

    struct Link {
        var fd: Int32 = -1
        var connection: SecureConnection<SystemRandom>? = nil
        var connecting = false
        /// Handshake deadline; once established: for an inbound connection the idle deadline (only stream data
        /// moves it, keep-alives do not), for one we dialled the deadline for the peer's next answer.
        var deadline: UInt64 = 0
        /// The identity a dialled peer must prove (from the multiaddr's /p2p part or the discovery answer).
        var expected: PeerID? = nil
        /// Where a dialled connection goes, for the line that says why it failed.
        var dialled: Multiaddr? = nil
        /// Initiator: this connection's pairing completed and was announced (PAIRED); its close is not news.
        var paired = false
        /// A Kademlia request this connection exists for (nil: pairing, ping, or an inbound connection).
        var kad: KadRequest? = nil
        /// Initiator: the device this connection paired (its id, and "<id> <name>") until its end of the pairing
        /// stream closes cleanly (`unconfirmedStream`), which a joiner does only once it has recorded the pairing too.
        var unconfirmed: (id: String, device: String)? = nil
        var unconfirmedStream: UInt32 = 0
        /// The joiner's exchange with the candidate this connection dials: a copy of the session's state per
        /// candidate, so that several candidates can be tried at once (wiped when the connection goes).
        var joiner: JoinerSession? = nil
        var streams = InlineArray<4, AppStream>(repeating: AppStream())
        /// A relayed connection has no socket: it runs inside stream `carrierStream` of link `carrier` (-1: none).
        var carrier = -1
        var carrierStream: UInt32 = 0
        /// This connection goes to a relay: the board's reservation (`reservation`), or a joiner's way to
        /// `circuitTarget`. It ends without news once it carries nothing.
        var toRelay = false
        var reservation = false
        /// A direct connection a hole punch opened (NodeHolePunch): it carries nothing, and its end is no news.
        var holePunch = false
        /// Joiner: the discovered candidate this connection dials (to put it back in the queue).
        var candidate: Candidate? = nil
        /// Joiner: the device this relay connection is for (the dialled circuit address's peer).
        var circuitTarget: PeerID? { toRelay && !reservation ? dialled?.peer : nil }
        var isFree: Bool { fd < 0 && carrier < 0 }
    }

    let identity: Ed25519.KeyPair
    var task: NodeTask
    /// `say` prints result lines on stdout; `log` prints one-line diagnostics on stderr.
    let log: (String) -> Void
    let say: (String) -> Void
    var links: [Link]
    /// What each link is to admission (inbound, proven, its source, how far it came and when it last moved): the
    /// state `Admission` decides on, slot for slot with `links`.
    var slots = Admission.Table(repeating: Admission.Slot())
    let arena: UnsafeMutableRawBufferPointer
    var listeners: [Int32] = []
    var random = SystemRandom()
    public private(set) var outcome: NodeOutcome? = nil
    var lingerUntil: UInt64 = 0
    /// Connections replaced to make room since the last log line about it (of them, established ones), and when
    /// that line was.
    var evictions = 0
    var establishedEvictions = 0
    var evictionLoggedAt: UInt64 = 0

    /// When a quiet connection is given up (`LinkTimeouts`).
    let timeouts: LinkTimeouts
    /// Where completed pairings are recorded (nil: ping and tests that record nothing).
    let registry: DeviceRegistry?
    /// Daemon mode (`serve`): a window that ends does not end the run, and SIGUSR1 asks `openWindow` for a new one.
    let daemon: Bool
    /// Opens a window with a fresh code, shows it, and returns it with its words (for the control client that asked).
    let openWindow: (() -> (window: InitiatorWindow<SystemRandom>, words: CodeWords)?)?
    /// The control socket (`serve`): `invite` from another process opens a window here.
    public var control: ControlServer? = nil
    /// Called when a pairing window ends (paired, expired, burned, cancelled), e.g. to clear a display.
    public var onWindowClosed: (() -> Void)? = nil
    /// Called on every turn of the loop (at least once a second) with the monotonic time: an LCD display redraws.
    public var onTick: ((UInt64) -> Void)? = nil
    /// `--events json`.
    public var events = EventSink.off
    /// mDNS (and the DHT's candidates); nil with both paths off.
    let discovery: Discovery?
    /// A window ended since the loop last cleared the stack below its frame.
    var scrubStack = false
    /// The joiner's dialling: when the last candidate started (they start `dialStaggerMilliseconds` apart).
    var dialling = Dialling()
    /// The port of the first listener: what a window advertises.
    var advertisedPort: UInt16 = 0
    /// Bound listener addresses (the DHT advertisement lists them).
    var listening: [Multiaddr] = []
    /// The DHT path (nil: no bootstrap peers, or `--no-dht`).
    let dhtSettings: DHTSettings?
    var dht: DHTState? = nil
    /// Ask the router for a port mapping while a window is open (`--no-port-mapping` turns it off).
    public var portMapping = true
    var portMapper: PortMapper? = nil
    /// The window's DHT record waits for the mapping's answer (its address goes into the record).
    var publishAfterMapping = false
    var lastReachability = ""
    /// Joiner: when the next "still looking" line is due (0: not started).
    var progressAt: UInt64 = 0
    static let progressMilliseconds: UInt64 = 5_000
    /// The public addresses DHT peers report for this board during the window's lookup (identify).
    var observedAddresses = ObservedAddresses()
    /// The window's relay reservation, and the relays it may ask.
    var relay = RelayState()
    var holePunch = HolePunchState()
    /// Relays from the settings (`--relay`, each with its /p2p/ id): asked first, before those found among the DHT
    /// peers; at most four.
    public var configuredRelays: [Multiaddr] = []
    /// Joiner: how the last attempt through a relay failed ("<relay's address> failed: <why>").
    var relayFailure: String? = nil
    /// Joiner: the candidates that failed (the last four reasons) and how many, and whether any connection proved
    /// the device's identity: the failure summary.
    var tried: [String] = []
    var triedCount = 0
    var reachedDevice = false

    public init(
        identity: Ed25519.KeyPair, task: NodeTask, registry: DeviceRegistry? = nil,
        handshakeTimeoutMilliseconds: UInt64 = AgentLimits.handshakeTimeoutMilliseconds,
        daemon: Bool = false, openWindow: (() -> (window: InitiatorWindow<SystemRandom>, words: CodeWords)?)? = nil,
        discovery: Discovery? = nil, dht: DHTSettings? = nil,
        say: @escaping (String) -> Void, log: @escaping (String) -> Void
    ) {
        self.discovery = discovery
        dhtSettings = dht
        self.identity = identity
        self.registry = registry
        self.daemon = daemon
        self.openWindow = openWindow
        timeouts = LinkTimeouts(handshake: handshakeTimeoutMilliseconds)
        self.task = task
        self.say = say
        self.log = log
        arena = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bytesPerLink * AgentLimits.maxConnections, alignment: 16)
        links = [Link](repeating: Link(), count: AgentLimits.maxConnections)
    }

    deinit {
        for i in 0..<links.count where !links[i].isFree {
            links[i].joiner?.wipe()
            Net.close(links[i].fd)
        }
        for fd in listeners { Net.close(fd) }
        arena.deallocate()
    }

    public var peerID: PeerID { PeerID(publicKey: identity.publicKey) }

    /// Each connection's share of the arena: receive and send buffers, then one buffer per stream slot.
    static var bytesPerLink: Int { 2 * SecureConnection<SystemRandom>.bufferSize + 4 * AgentLimits.streamBufferSize }

    func region(_ i: Int, _ offset: Int, _ length: Int) -> UnsafeMutableRawBufferPointer {
        let base = i * Self.bytesPerLink + offset
        return UnsafeMutableRawBufferPointer(rebasing: arena[base..<(base + length)])
    }

    func streamBuffer(_ i: Int, _ s: Int) -> UnsafeMutableRawBufferPointer {
        region(i, 2 * SecureConnection<SystemRandom>.bufferSize + s * AgentLimits.streamBufferSize, AgentLimits.streamBufferSize)
    }

    /// Opens a listener; returns its full multiaddr (with the bound port and our peer id).
    /// Listening addresses at most (the poll set's listener slots): more are refused, not silently left unserved.
    public static let maxListeners = 8

    public func listen(_ address: Multiaddr) -> Result<Multiaddr, SystemError> {
        guard listeners.count < Self.maxListeners else { return .failure(SystemError(E2BIG)) }
        switch Net.listen(host: address.hostText, port: address.port) {
        case .failure(let e): return .failure(e)
        case .success(let (fd, port)):
            if listeners.isEmpty { advertisedPort = port }
            listeners.append(fd)
            listening.append(Multiaddr(host: address.host, port: port))
            return .success(Multiaddr(host: address.host, port: port, peer: peerID))
        }
    }

    // MARK: The loop

    /// The slots one `poll()` round gave each source (`prepare` fills them, `step` reads them back).
    struct Round {
        var signals: SignalPipe? = nil
        var signal = -1
        var listeners = InlineArray<8, Int>(repeating: -1)
        var links = InlineArray<4, Int>(repeating: -1)
    }
    var round = Round()
    /// The time of the turn being handled (monotonic milliseconds), as `start`, `prepare` or `step` was given it:
    /// every decision and deadline below reads this, never the clock, so a turn is one instant and a caller (a
    /// vendor's loop, a test) owns time. Only `run`'s own loop reads the clock, and the ping task, which prints
    /// round trips to the microsecond.
    @exclusivity(unchecked) var now: UInt64 = 0
    /// When `step` is due at the latest (monotonic milliseconds), as the last `prepare` computed it.
    public private(set) var wakeAt: UInt64 = 0

    /// The agent's own loop: `start`, then `prepare`, `poll()`, `step` until an outcome. A program with a loop of its
    /// own makes the same three calls from it (SDPair's `PairingSession`, the C library's `sd_pair_step`).
    public func run(signals: SignalPipe?) -> NodeOutcome {
        start(signals: signals, now: MonotonicClock.milliseconds())
        return loop()
    }

    /// `run` for a node already started: `prepare`, `poll()`, `step` until an outcome. (Inlined into `run`: the
    /// board build has no other caller.)
    @inline(__always)
    public func loop() -> NodeOutcome {
        var set = PollSet()
        while true {
            let now = MonotonicClock.milliseconds()
            if let outcome = prepare(&set, now: now) { return outcome }
            if case .failure(let e) = set.wait(timeoutMilliseconds: Int32(wakeAt > now ? min(wakeAt - now, 1000) : 0)) {
                return .failed("poll failed: " + e.name)
            }
            if let outcome = step(set, now: MonotonicClock.milliseconds()) { return outcome }
        }
    }

    /// Begins the task: the joiner dials or starts looking, an initiator advertises its window. `signals` (SIGINT and
    /// SIGTERM end the run, SIGUSR1 opens a window) is watched from here on.
    public func start(signals: SignalPipe?, now: UInt64) {
        self.now = now
        round.signals = signals
        switch task {
        case .join(_, let peer?):
            dialCandidate(Candidate(address: peer, source: .dht), now: now)
        case .join(let session, nil):
            if let event = PairingEvent(joinerState: session.state) { events.emit(event) }
            discovery?.browse(for: session.sessionID)
            dhtSearch(session)
        case .ping(let peer, _):
            _ = dial(peer, scope: 0, now: now)
        case .serve(let window?, _):
            advertise(window)
        case .serve:
            break
        }
    }

    /// Does what is due at `now` (timeouts, the next dial, a window's expiry), then fills `set` with the descriptors
    /// the node waits on and sets `wakeAt`. Returns the outcome once the run is over: the caller stops stepping.
    public func prepare(_ set: inout PollSet, now: UInt64) -> NodeOutcome? { prepareRound(&set, now: now) }

    /// Handles what `set` (as `prepare` filled it, with poll's results) says is ready. Returns the outcome when the
    /// run ends here (a signal); otherwise the next `prepare` says whether it is over.
    public func step(_ set: PollSet, now: UInt64) -> NodeOutcome? {
        if scrubStack {
            // A window ended: clear the stack below this frame, where copies of its words may linger in the frames
            // of the calls that showed them (finding 11; the heap copies are wiped where they are made). `prepare`
            // and `step` are thin frames over the work (never inlined into them), so that every frame that could
            // hold words lay below this one, whichever loop (ours or an embedder's) calls the two.
            scrubStack = false
            sd_scrub_stack()
        }
        return stepRound(set, now: now)
    }

    @inline(never)
    func prepareRound(_ set: inout PollSet, now: UInt64) -> NodeOutcome? {
        self.now = now
        tick(now)
        onTick?(now)
        if outcome != nil && RunEnding.stops(now: now, lingerUntil: lingerUntil, pendingOutput: hasPendingOutput, awaitingConfirmation: awaitingConfirmation) {
            for i in 0..<links.count where links[i].unconfirmed != nil { warnUnconfirmed(i) }
            return outcome!
        }
        set.reset()
        round.signal = round.signals.flatMap { set.add($0.fd, readable: true, writable: false) } ?? -1
        // At capacity with nothing to evict, stop accepting: the kernel's backlog holds the rest, memory stays fixed
        // (and poll does not spin on a listener we cannot serve).
        let accepting = !listeners.isEmpty && outcome == nil && (hasFreeLink || hasEvictableLink)
        for (i, fd) in listeners.enumerated() where i < Self.maxListeners {
            round.listeners[i] = accepting ? set.add(fd, readable: true, writable: false) ?? -1 : -1
        }
        for i in 0..<links.count where links[i].carrier >= 0 { flush(i) }  // what a full carrier held back
        for i in 0..<links.count {
            let wantWrite = links[i].connecting || !(links[i].connection?.pendingOutput.isEmpty ?? true)
            round.links[i] = links[i].fd >= 0 ? set.add(links[i].fd, readable: !links[i].connecting, writable: wantWrite) ?? -1 : -1
        }
        discovery?.register(into: &set)
        control?.register(into: &set)
        portMapper?.register(into: &set)
        wakeAt = nextDeadline(now)
        return nil
    }

    @inline(never)
    func stepRound(_ set: PollSet, now: UInt64) -> NodeOutcome? {
        self.now = now
        discovery?.dispatch(set, now: now)
        portMapper?.dispatch(set, now: now)
        if let control {
            control.dispatch(set, now: now)
            answer(control, now: now)
        }
        if round.signal >= 0, set.isReadable(round.signal), let signals = round.signals {
            while let s = signals.next() {
                if s == SignalPipe.interrupt || s == SignalPipe.terminate {
                    log("interrupted; shutting down")
                    // A window open at Ctrl-C ends here too: a UI that follows the events must hear of it.
                    if case .serve(_?, _) = task, outcome == nil { events.emit(.windowClosed) }
                    releasePortMapping(now)
                    return .interrupted
                }
                if s == SignalPipe.user1, var opened = requestWindow() { opened.words.wipe() }
            }
        }
        for (i, fd) in listeners.enumerated() where i < Self.maxListeners && round.listeners[i] >= 0 && set.isReadable(round.listeners[i]) {
            acceptAll(fd, now: now)
        }
        for i in 0..<links.count where round.links[i] >= 0 {
            let slot = round.links[i]
            if links[i].connecting {
                if set.isWritable(slot) { finishConnect(i) }
                continue
            }
            if set.isReadable(slot) { readFrom(i) }
            if !links[i].isFree && set.isWritable(slot) { flush(i) }
        }
        return nil
    }

    var hasFreeLink: Bool { links.contains { $0.isFree } }

    var awaitingConfirmation: Bool { links.contains { $0.unconfirmed != nil } }

    /// The pairing is recorded here, but the joiner's connection ended without its clean close (it got, and
    /// recorded, our confirmation) — e.g. an on-path attacker dropped the `Complete`. Say so (security review
    /// finding 10): both sides then know, and a new pairing repairs it.
    func warnUnconfirmed(_ i: Int) {
        guard let (id, device) = links[i].unconfirmed else { return }
        links[i].unconfirmed = nil
        log("warning: " + device + " did not confirm the pairing (its connection ended first); if that device does not list this one, run `sd-pair forget " + id + "` here and pair again")
    }

    var hasPendingOutput: Bool {
        links.contains { !$0.isFree && !($0.connection?.pendingOutput.isEmpty ?? true) }
    }

    func nextDeadline(_ now: UInt64) -> UInt64 {
        var next = now + 1000
        for link in links where !link.isFree { next = min(next, link.deadline) }
        if evictions > 0 { next = min(next, evictionLoggedAt + AgentLimits.evictionLogIntervalMilliseconds) }
        if let at = dht?.schedule.wakeAt { next = min(next, max(at, now)) }
        if let at = nextDialAt { next = min(next, max(at, now)) }
        if holePunch.session.dialAt != 0 { next = min(next, max(holePunch.session.dialAt, now)) }
        switch task {
        case .serve(let window?, _): next = min(next, window.deadline.milliseconds)
        case .join(let session, _): next = min(next, session.deadline.milliseconds)
        default: break
        }
        if outcome != nil { next = min(next, lingerUntil) }
        if let d = discovery?.nextDeadline { next = min(next, max(d, now)) }
        if let d = control?.nextDeadline { next = min(next, max(d, now)) }
        if let d = portMapper?.nextDeadline { next = min(next, max(d, now)) }
        return next
    }

    func tick(_ now: UInt64) {
        for i in 0..<links.count where !links[i].isFree && links[i].kad == nil {
            let facts = LinkTimeouts.Facts(established: slots[i].established, inbound: slots[i].inbound, connecting: links[i].connecting,
                toRelay: links[i].toRelay && links[i].joiner == nil)
            switch LinkTimeouts.verdict(now: now, deadline: links[i].deadline, facts, holdsRelay: links[i].reservation || carries(i)) {
            case .keep: break
            case .unneeded: dropQuietly(i)
            case .noAnswer: drop(i, reason: "no answer in " + String(timeouts.handshake / 1000) + " s")
            case .handshakeStalled: drop(i, reason: "handshake timeout (" + String(timeouts.handshake / 1000) + " s)")
            case .idle: drop(i, reason: "idle for " + String(timeouts.idle / 1000) + " s")
            case .silent: drop(i, reason: "no answer for " + String(timeouts.handshake / 1000) + " s (the device accepted the connection, then went silent)")
            }
        }
        if evictions > 0 && now >= evictionLoggedAt + AgentLimits.evictionLogIntervalMilliseconds { logEvictions(now) }
        dhtTick(now)
        portMappingTick(now)
        holePunchTick(now)
        switch task {
        case .serve(var window?, let echo):
            let event = window.tick(now: Instant(milliseconds: now))
            task = .serve(window: window, echo: echo)  // before finish(), which may end the window
            if case .expired? = event {
                events.emit(.expired)
                finish(.failed(RunEnding.codeExpired))
            }
        case .join(var session, let peer):
            let step = session.tick(now: Instant(milliseconds: now))
            task = .join(session: session, peer: peer)
            if case .expired? = step.event {
                if peer == nil { sayFailureSummary() }
                events.emit(.expired)
                finish(.failed(RunEnding.joinerExpired(found: dht?.schedule.opened != nil, unreachable: dht?.unreachable == true, relayFailure: relayFailure)))
            } else if peer == nil {
                dialNextCandidates(now)
                if now >= progressAt {
                    if progressAt != 0 { sayProgress(session, now) }
                    progressAt = now + Self.progressMilliseconds
                }
            }
        default:
            break
        }
    }

    /// What the joiner's dialling (`Dialling`) reads of the table, in one pass.
    var attempts: Dialling.Attempts {
        var a = Dialling.Attempts()
        for i in 0..<links.count where links[i].joiner != nil {
            a.add(i, impatientSince: links[i].connecting && links[i].candidate?.patient == false ? slots[i].movedAt : nil)
        }
        return a
    }

    /// Discovery mode: starts the candidates `Dialling` says are due (a dial that fails at once makes room for the
    /// next in the same turn). A device's addresses race their TCP connects; the first that connects goes on (Noise,
    /// pairing) and the others are put back (`connected`), so one exchange per device runs at a time. The first
    /// candidate that completes the pairing wins; the others are closed.
    func dialNextCandidates(_ now: UInt64) {
        for _ in 0..<AgentLimits.parallelDials {
            guard outcome == nil, case .join(let session, nil) = task, session.state == .discovering, let discovery else { return }
            switch dialling.next(now: now, attempts, waiting: discovery.hasCandidate(skipping: { self.isBeingDialled($0) }), freeSlot: freeLink() != nil) {
            case .wait:
                return
            case .makeRoom(let slow):
                log(Self.at(links[slow].dialled, "no answer in " + String(AgentLimits.slowConnectMilliseconds) + " ms; trying the other addresses first, this one again after them"))
                putBack(slow)
            case .dial:
                break
            }
            guard freeLink() != nil, let candidate = discovery.nextCandidate(skipping: { self.isBeingDialled($0) }) else { return }
            logTrying(candidate)
            dialCandidate(candidate, now: now)
        }
    }

    /// Not inlined: in the loop above, the line's concatenation would be unrolled in place (board size).
    @inline(never)
    func logTrying(_ candidate: Candidate) { log("trying " + candidate.address.text + " (found by " + candidate.sourceName + ")") }

    /// When the joiner can start its next dial (nil: only news can make it due).
    var nextDialAt: UInt64? {
        guard case .join(_, nil) = task, outcome == nil, let discovery else { return nil }
        return dialling.wakeAt(attempts, waiting: discovery.hasCandidate(skipping: { self.isBeingDialled($0) }), freeSlot: freeLink() != nil)
    }

    /// Ends attempt `i` without a verdict: its candidate goes back to the end of the queue, marked patient.
    func putBack(_ i: Int) {
        if var c = links[i].candidate {
            c.patient = true
            discovery?.requeue(c)
        }
        links[i].joiner?.wipe()
        links[i].joiner = nil
        dropQuietly(i)
    }

    /// Link `i` as the joiner's dialling sees it (`Dialling.Attempt`).
    func attempt(_ i: Int) -> Dialling.Attempt {
        Dialling.Attempt(expected: links[i].expected, circuitTarget: links[i].circuitTarget, connecting: links[i].connecting)
    }

    /// A device is being dialled when one of its attempts has connected (`Dialling.holds`).
    func isBeingDialled(_ peer: PeerID?) -> Bool {
        guard let peer else { return false }
        return links.indices.contains { links[$0].joiner != nil && Dialling.holds(attempt($0), peer) }
    }

    /// Attempt `i` connected: the others that `Dialling.stepsBack` names go back to the queue.
    func connected(_ i: Int) {
        guard links[i].joiner != nil, let peer = attempt(i).device else { return }
        for j in 0..<links.count where j != i && links[j].joiner != nil && Dialling.stepsBack(attempt(j), for: peer) {
            putBack(j)
        }
    }

    /// Dials one candidate with its own copy of the joiner's exchange.
    func dialCandidate(_ candidate: Candidate, now: UInt64) {
        guard case .join(let session, _) = task else { return }
        dialling.started(now: now)
        var joiner = session
        let step = joiner.connecting(now: Instant(milliseconds: now))
        if case .stateChanged(let state)? = step.event, let event = PairingEvent(joinerState: state) { events.emit(event) }
        guard let i = dial(candidate.address, scope: candidate.scope, now: now) else {
            joiner.wipe()
            return
        }
        links[i].joiner = joiner
        links[i].candidate = candidate
    }

    /// The authentic device has answered (or paired) on link `keep`: the other candidates are moot.
    func closeOtherCandidates(except keep: Int) {
        for i in 0..<links.count where i != keep && links[i].joiner != nil {
            links[i].joiner?.wipe()
            links[i].joiner = nil
            dropQuietly(i)
        }
    }

    func finish(_ result: NodeOutcome) {
        guard outcome == nil else { return }
        if daemon, case .serve(_, let echo) = task {
            endWindow(result, echo: echo)
            return
        }
        outcome = result
        lingerUntil = now + AgentLimits.lingerMilliseconds
        if case .serve(_?, _) = task {
            discovery?.withdraw()
            onWindowClosed?()
        }
        if case .join = task { discovery?.stopBrowsing() }
        stopDHT()
        releasePortMapping(now)
    }

    // MARK: Connection events

    func process(_ i: Int) {
        while !links[i].isFree {
            let event: ConnectionEvent?
            do { event = try links[i].connection!.poll() } catch {
                drop(i, reason: Self.describe(error))
                return
            }
            guard let event else { break }
            handle(event, on: i)
        }
        flush(i)
    }

    func handle(_ event: ConnectionEvent, on i: Int) {
        switch event {
        case .established:
            slots[i].established = true
            links[i].deadline = timeouts.moved(now, inbound: slots[i].inbound)
            established(i)
        case .streamOpened(let id):
            guard links[i].kad == nil, let s = freeStream(i) else {
                try? links[i].connection!.reset(id)
                return
            }
            let protocols = offered(i)
            let listener = MultistreamListener(supported: protocols.list, count: protocols.count)
            var opening = FixedBytes<128>()
            let n = opening.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                try? listener.start(into: &w)
                return w.count
            }
            claim(i, s, id: id, kind: .negotiatingIn(listener), opening: opening, length: n)
        case .streamData(let id, let bytes):
            guard let s = stream(i, id) else { return }
            if case .active(.circuit) = links[i].streams[s].kind { return deliver(links[i].streams[s].carried, bytes) }
            // Only stream data is activity: yamux pings and window updates never reach here, so they keep nothing open.
            if links[i].kad == nil {
                slots[i].movedAt = now
                links[i].deadline = timeouts.moved(slots[i].movedAt, inbound: slots[i].inbound)
            }
            let room = links[i].streams[s].buffer.count - links[i].streams[s].count
            guard bytes.count <= room else {
                log("stream overran its buffer; reset")
                resetStream(i, s)
                return
            }
            let base = links[i].streams[s].count
            let buffer = links[i].streams[s].buffer
            if bytes.count > 0 { (buffer.baseAddress! + base).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            links[i].streams[s].count += bytes.count
            streamInput(i, s)
        case .streamFinished(let id):
            if links[i].unconfirmed != nil && links[i].unconfirmedStream == id {
                links[i].unconfirmed = nil  // the joiner recorded the pairing and closed its end: confirmed
            }
            guard let s = stream(i, id), !relayStreamEnded(i, s) else { return }
            switch links[i].streams[s].kind {
            case .active(.echo), .active(.pingServer):
                try? links[i].connection!.finish(id)
            case .active(.pingClient):
                if case .ping(_, let count) = task, links[i].streams[s].pingsDone >= count { finish(.pinged) }
            default:
                break
            }
        case .streamReset(let id):
            if links[i].kad != nil { return kadRefused(i) }
            if links[i].unconfirmedStream == id { warnUnconfirmed(i) }
            if i == holePunch.link && id == holePunch.stream { holePunchLinkGone(i, "") }  // the other side gave up
            guard let s = stream(i, id), !relayStreamEnded(i, s) else { return }
            releaseStream(i, s)
        case .streamAccepted, .pong:
            break
        case .goAway:
            drop(i, reason: "peer is going away")
        }
    }

    /// What an inbound stream on link `i` may negotiate: ping and identify always; on the connection holding our
    /// relay reservation the relay's stop protocol; elsewhere pairing while a window is open, and echo when asked
    /// for (tests).
    func offered(_ i: Int) -> (list: InlineArray<4, StaticString>, count: Int) {
        var list = InlineArray<4, StaticString>(repeating: Protocols.ping)
        list[1] = Protocols.identify
        var count = 2
        if links[i].reservation {
            list[2] = CircuitRelay.stopProtocol
            return (list, 3)
        }
        if case .join = task, links[i].carrier >= 0 {
            list[2] = HolePunch.protocolID  // the device behind the relay may start a hole punch
            return (list, 3)
        }
        if case .serve(let window, let echo) = task {
            if window != nil {
                list[count] = Protocols.pairing
                count += 1
            }
            if echo {
                list[count] = Protocols.echo
                count += 1
            }
        }
        return (list, count)
    }

    static func purpose(of id: StaticString) -> AppStream.Purpose {
        let bytes = UnsafeRawBufferPointer(start: id.utf8Start, count: id.utf8CodeUnitCount)
        if Multistream.equals(bytes, Protocols.pairing) { return .pairing }
        if Multistream.equals(bytes, Protocols.echo) { return .echo }
        if Multistream.equals(bytes, Protocols.identify) { return .identifyServer }
        if Multistream.equals(bytes, CircuitRelay.stopProtocol) { return .stop }
        if Multistream.equals(bytes, HolePunch.protocolID) { return .holePunch }
        return .pingServer
    }

    func established(_ i: Int) {
        guard let session = links[i].connection?.session else { return }
        let remote = PeerID(publicKey: session.remoteIdentity)
        if let expected = links[i].expected, expected != remote {
            drop(i, reason: "peer id mismatch: expected " + expected.text + ", got " + remote.text)
            return
        }
        if links[i].kad != nil { return kadEstablished(i) }
        if links[i].holePunch { return holePunched(i) }
        if links[i].toRelay {
            openStream(i, proposal: CircuitRelay.hopProtocol, purpose: .hop)
            if links[i].joiner != nil { askIdentify(i) }
            return
        }
        if links[i].joiner != nil && links[i].expected != nil { reachedDevice = true }
        switch task {
        case .join, .ping:
            let purpose: AppStream.Purpose
            if case .join = task { purpose = .pairing } else { purpose = .pingClient }
            openStream(i, proposal: purpose == .pairing ? Protocols.pairing : Protocols.ping, purpose: purpose)
        case .serve:
            if links[i].carrier >= 0 { holePunchBegin(i) }
        }
    }

    func openStream(_ i: Int, proposal: StaticString, purpose: AppStream.Purpose) {
        openStream(i, dialer: MultistreamDialer(proposal: proposal), purpose: purpose)
    }

    func openStream(_ i: Int, dialer: MultistreamDialer, purpose: AppStream.Purpose) {
        guard let s = freeStream(i) else { return }
        let id: UInt32
        do { id = try links[i].connection!.openStream() } catch {
            drop(i, reason: "cannot open a stream: " + Self.describe(error))
            return
        }
        var opening = FixedBytes<128>()
        let n = opening.withUnsafeMutableBytes { raw -> Int in
            var w = ByteWriter(raw)
            try? dialer.start(into: &w)
            return w.count
        }
        claim(i, s, id: id, kind: .negotiatingOut(dialer, then: purpose), opening: opening, length: n)
    }

    /// Gives stream slot `s` of link `i` to stream `id` and sends its multistream opening (header, proposal).
    func claim(_ i: Int, _ s: Int, id: UInt32, kind: AppStream.Kind, opening: FixedBytes<128>, length: Int) {
        links[i].streams[s] = AppStream()
        links[i].streams[s].buffer = streamBuffer(i, s)
        links[i].streams[s].id = id
        links[i].streams[s].kind = kind
        opening.withUnsafeBytes { write(i, id, UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
    }

    // MARK: Streams

    func freeStream(_ i: Int) -> Int? {
        for s in 0..<4 where links[i].streams[s].id == 0 { return s }
        return nil
    }

    func stream(_ i: Int, _ id: UInt32) -> Int? {
        for s in 0..<4 where links[i].streams[s].id == id { return s }
        return nil
    }

    func write(_ i: Int, _ id: UInt32, _ bytes: UnsafeRawBufferPointer) {
        guard !links[i].isFree, id != 0 else { return }
        do { try links[i].connection!.write(id, bytes) } catch { drop(i, reason: "cannot write: " + Self.describe(error)) }
    }

    func releaseStream(_ i: Int, _ s: Int) {
        if links[i].streams[s].handshake != nil { closeHandshake(i, s) }
        links[i].streams[s] = AppStream()
    }

    func resetStream(_ i: Int, _ s: Int) {
        try? links[i].connection!.reset(links[i].streams[s].id)
        releaseStream(i, s)
    }

    func consume(_ i: Int, _ s: Int, _ n: Int) {
        let count = links[i].streams[s].count
        let buffer = links[i].streams[s].buffer
        if count > n { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + n, byteCount: count - n) }
        links[i].streams[s].count = count - n
    }

    /// Runs the stream's protocol over its buffered bytes.
    func streamInput(_ i: Int, _ s: Int) {
        for _ in 0..<16 {
            guard !links[i].isFree, links[i].streams[s].id != 0 else { return }
            let id = links[i].streams[s].id
            switch links[i].streams[s].kind {
            case .free:
                return
            case .negotiatingIn(var listener):
                var answers = FixedBytes<512>()
                var answerCount = 0
                var result: Result<(MultistreamListener.Outcome, Int), Multistream.Error> = .success((.pending, 0))
                let pending = links[i].streams[s].received
                answers.withUnsafeMutableBytes { out in
                    var w = ByteWriter(out)
                    result = Self.listen(&listener, pending, &w)
                    answerCount = w.count
                }
                answers.withUnsafeBytes { write(i, id, UnsafeRawBufferPointer(rebasing: $0[0..<answerCount])) }
                guard !links[i].isFree else { return }
                switch result {
                case .failure:
                    resetStream(i, s)
                    return
                case .success((.pending, let used)):
                    links[i].streams[s].kind = .negotiatingIn(listener)
                    consume(i, s, used)
                    return
                case .success((.agreed(let index), let used)):
                    consume(i, s, used)
                    // By name, not position: the offer was fixed when the stream opened, windows may have changed since.
                    let purpose = Self.purpose(of: listener.supported[index])
                    links[i].streams[s].kind = .active(purpose)
                    if purpose == .identifyServer { return answerIdentify(i, s) }
                    if purpose == .pairing, let session = links[i].connection?.session {
                        links[i].streams[s].handshake = InitiatorHandshake(
                            binding: ChannelBinding(handshakeHash: session.handshakeHash, exporter: session.exporter, remoteIdentity: session.remoteIdentity))
                    }
                }
            case .negotiatingOut(var dialer, let purpose):
                var result: Result<(MultistreamDialer.Outcome, Int), Multistream.Error> = .success((.pending, 0))
                result = Self.dialNegotiate(&dialer, links[i].streams[s].received)
                switch result {
                case .failure(let e):
                    if purpose == .kad { return kadRefused(i) }
                    if purpose == .hop { return hopRefused(i, s, reason: "the peer offers no circuit relay") }
                    if purpose == .identifyClient { return identifyDone(i, s) }
                    if purpose == .holePunch {
                        resetStream(i, s)
                        return holePunchEnd("the joiner does not offer DCUtR")
                    }
                    resetStream(i, s)
                    let reason = e != .refused ? "stream negotiation failed"
                        : purpose == .pairing ? "the device has no pairing window open (the code was used or expired); open a new one there"
                        : "the peer does not answer ping"
                    if purpose == .pairing { endCandidate(i, reason: reason) } else { connectionFailed(reason) }
                    return
                case .success((.pending, let used)):
                    links[i].streams[s].kind = .negotiatingOut(dialer, then: purpose)
                    consume(i, s, used)
                    return
                case .success((.agreed, let used)):
                    consume(i, s, used)
                    links[i].streams[s].kind = .active(purpose)
                    beginOutbound(i, s, purpose)
                }
            case .active(.pingServer):
                guard links[i].streams[s].count >= AgentLimits.pingLength else { return }
                echoBack(i, s, AgentLimits.pingLength)
            case .active(.echo):
                let n = links[i].streams[s].count
                guard n > 0 else { return }
                echoBack(i, s, n)
            case .active(.pingClient):
                guard links[i].streams[s].count >= AgentLimits.pingLength else { return }
                let answer = UnsafeRawBufferPointer(rebasing: links[i].streams[s].buffer[0..<AgentLimits.pingLength])
                let matches = links[i].streams[s].pingPayload.withUnsafeBytes { Sodium.constantTimeEqual(answer, $0) }
                consume(i, s, AgentLimits.pingLength)
                guard matches else {
                    connectionFailed("ping answer did not match")
                    return
                }
                let elapsed = MonotonicClock.nanoseconds() - links[i].streams[s].pingSentAt
                links[i].streams[s].pingsDone += 1
                say("PING " + String(links[i].streams[s].pingsDone) + " " + Self.milliseconds(elapsed) + " ms")
                if case .ping(_, let count) = task, links[i].streams[s].pingsDone < count {
                    sendPing(i, s)
                } else {
                    // Close gracefully: half-close, and finish once the peer's FIN arrives (streamFinished), so
                    // the peer never sees a reset for data we left unread.
                    try? links[i].connection!.finish(id)
                    return
                }
            case .active(.pairing):
                guard pairingInput(i, s) else { return }
            case .active(.kad):
                return kadInput(i, s)
            case .active(.identifyClient):
                return identifyInput(i, s)
            case .active(.identifyServer), .active(.circuit):
                return
            case .active(.hop):
                return hopInput(i, s)
            case .active(.stop):
                return stopInput(i, s)
            case .active(.holePunch):
                return holePunchInput(i, s)
            }
        }
    }

    /// Sends the first `n` buffered bytes back and drops them from the buffer.
    func echoBack(_ i: Int, _ s: Int, _ n: Int) {
        let id = links[i].streams[s].id
        write(i, id, UnsafeRawBufferPointer(rebasing: links[i].streams[s].buffer[0..<n]))
        consume(i, s, n)
    }

    static func listen(_ l: inout MultistreamListener, _ input: UnsafeRawBufferPointer, _ w: inout ByteWriter) -> Result<(MultistreamListener.Outcome, Int), Multistream.Error> {
        do {
            let (outcome, used) = try l.receive(input, answers: &w)
            return .success((outcome, used))
        } catch { return .failure(error) }
    }

    static func dialNegotiate(_ d: inout MultistreamDialer, _ input: UnsafeRawBufferPointer) -> Result<(MultistreamDialer.Outcome, Int), Multistream.Error> {
        do {
            let (outcome, used) = try d.receive(input)
            return .success((outcome, used))
        } catch { return .failure(error) }
    }

    func beginOutbound(_ i: Int, _ s: Int, _ purpose: AppStream.Purpose) {
        switch purpose {
        case .pingClient:
            sendPing(i, s)
        case .kad:
            kadSend(i, s)
        case .hop:
            hopSend(i, s)
        case .pairing:
            guard var joiner = links[i].joiner, let noise = links[i].connection?.session else { return }
            let step = joiner.connected(
                binding: ChannelBinding(handshakeHash: noise.handshakeHash, exporter: noise.exporter, remoteIdentity: noise.remoteIdentity),
                now: Instant(milliseconds: now))
            links[i].joiner = joiner
            apply(step, i, s)
        default:
            break
        }
    }

    func sendPing(_ i: Int, _ s: Int) {
        links[i].streams[s].pingPayload = random.bytes()
        links[i].streams[s].pingSentAt = MonotonicClock.nanoseconds()
        let payload = links[i].streams[s].pingPayload
        let id = links[i].streams[s].id
        payload.withUnsafeBytes { write(i, id, $0) }
    }

    /// Decodes complete pairing frames and feeds them to the state machine. Returns false when the stream
    /// has no complete frame left (or is gone).
    func pairingInput(_ i: Int, _ s: Int) -> Bool {
        var decoded: PairingMessage? = nil
        var frameLength = 0
        var problem: String? = nil
        switch Self.nextFrame(links[i].streams[s].received) {
        case .none: break
        case .some(.failure(let why)): problem = why.text
        case .some(.success(let (message, length))):
            decoded = message
            frameLength = length
        }
        if let problem {
            log("bad pairing message: " + problem)
            resetStream(i, s)
            return false
        }
        guard let message = decoded else { return false }
        consume(i, s, frameLength)
        let now = Instant(milliseconds: self.now)
        switch task {
        case .serve(var window?, let echo):
            guard var hs = links[i].streams[s].handshake else { return false }
            let step = window.receive(message, on: &hs, now: now)
            links[i].streams[s].handshake = hs
            task = .serve(window: window, echo: echo)
            var reply = step.reply
            // Record before confirming: if the pairing cannot be kept here, the joiner must not keep it either.
            var recordFailure: RegistryFailure? = nil
            if case .paired(let peer)? = step.event {
                recordFailure = record(peer)
                if let rejection = PairingEffects.confirmation(recordFailure) { reply = .complete(Complete(sessionID: window.sessionID, rejection: rejection)) }
            }
            // Answer and close this stream before anything that may end the window (which resets pairing streams).
            if let reply { sendFrame(i, s, reply) }
            if step.close, links[i].streams[s].id != 0 {
                try? links[i].connection!.finish(links[i].streams[s].id)
                links[i].streams[s].handshake = nil
            }
            if case .paired(var peer)? = step.event {
                if let failure = recordFailure {
                    unrecorded(failure, board: true, peer)
                } else {
                    // Recorded here; confirmed once the joiner closes its end of the stream cleanly (warnUnconfirmed).
                    let id = peer.deviceInfo.deviceID.uuidString
                    links[i].unconfirmed = (id, id + " " + peer.deviceInfo.name.string)
                    links[i].unconfirmedStream = links[i].streams[s].id
                    links[i].paired = true
                    log(Self.at(peerAddress(i), "paired with '" + peer.deviceInfo.name.string + "' (" + id + ")"))
                    announcePaired(peer, relayed: links[i].carrier >= 0)
                }
                peer.sessionKeys.wipe()
            } else if let event = step.event {
                initiatorEvent(event, i)
            }
        case .join:
            guard var joiner = links[i].joiner else {
                resetStream(i, s)
                return false
            }
            let step = joiner.receive(message, now: now)
            links[i].joiner = joiner
            apply(step, i, s)
        default:
            resetStream(i, s)
            return false
        }
        return true
    }

    static func nextFrame(_ input: UnsafeRawBufferPointer) -> Result<(PairingMessage, Int), Problem>? {
        let range: Range<Int>
        let total: Int
        do {
            guard case .frame(let body, let length) = try MessageFrame.next(in: input) else { return nil }
            (range, total) = (body, length)
        } catch {
            return .failure(Problem(text: "bad frame"))
        }
        do { return .success((try MessageCodec.decode(UnsafeRawBufferPointer(rebasing: input[range])), total)) } catch {
            return .failure(Problem(text: "undecodable message"))
        }
    }

    func sendFrame(_ i: Int, _ s: Int, _ message: PairingMessage) {
        var out = FixedBytes<600>()
        let n = out.withUnsafeMutableBytes { raw in MessageFrame.encoded(message, into: raw)?.count ?? 0 }
        let id = links[i].streams[s].id
        out.withUnsafeBytes { write(i, id, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    func apply(_ step: JoinerStep, _ i: Int, _ s: Int) {
        if let reply = step.reply { sendFrame(i, s, reply) }
        var recordFailure: RegistryFailure? = nil
        if case .paired(let peer)? = step.event {
            // Record before closing our end: the initiator takes our clean close as "recorded there too", and a
            // reset as "not kept there" (it then warns), so the two registries never disagree silently.
            closeOtherCandidates(except: i)
            recordFailure = record(peer)
        }
        if step.close, !links[i].isFree, links[i].streams[s].id != 0 {
            if recordFailure != nil { resetStream(i, s) } else { try? links[i].connection!.finish(links[i].streams[s].id) }
        }
        if step.proofExposed, countUnprovenPeer() { return }
        guard let event = step.event else { return }
        switch PairingEffects.joiner(event, discovering: task.isDiscovering) {
        case .none:
            break
        case .record:
            // The peer, with its session keys, stays in the step's event: no effect carries a secret.
            guard case .paired(var peer) = event else { return }
            if let failure = recordFailure {
                unrecorded(failure, board: false, peer)
            } else {
                if links[i].carrier >= 0, let a = peerAddress(i) { log("paired through the relay " + a.text) }
                announcePaired(peer, relayed: links[i].carrier >= 0)
            }
            peer.sessionKeys.wipe()
        case .candidateOut(let reason):
            endCandidate(i, reason: reason)
        case .end(let event, let outcome):
            events.emit(event)
            finish(.failed(outcome))
        case .authentic(let name):
            closeOtherCandidates(except: i)
            events.emit(.challengeReceived(deviceName: name))
        case .emit(let event):
            events.emit(event)
        }
    }

    /// Short code: a candidate took our proof without proving itself; counted on the session. True when that ended
    /// the join.
    func countUnprovenPeer() -> Bool {
        guard case .join(var session, let peer) = task else { return false }
        let step = session.peerLeftUnproven()
        task = .join(session: session, peer: peer)
        guard case .failed(let why)? = step.event else { return false }
        events.emit(.failed(reason: why.description))
        finish(.failed(why.description))
        return true
    }

    /// A discovered candidate did not pair; the session keeps looking until it expires.
    func candidateFailed(_ reason: String) {
        log("candidate failed: " + reason + "; still looking")
        triedCount += 1
        if tried.count == 4 { tried.removeFirst() }  // the last four, for the summary
        tried.append(reason)
        events.emit(.candidateFailed(reason: reason))
        events.emit(.discovering)
    }

    /// Carries out what `PairingEffects.initiator` makes of a step's event on connection `i`: its refusal lines start
    /// with the connection's address ("/ip4/…/tcp/…: pairing attempt refused: …").
    func initiatorEvent(_ event: InitiatorEvent, _ i: Int) {
        switch PairingEffects.initiator(event) {
        case .none:
            break
        case .proven:
            slots[i].proven = true
            events.emit(.challengeSent)
        case .refused(let line, let event, let ending):
            log(Self.at(peerAddress(i), line))
            if let event { events.emit(event) }
            if let ending { finish(.failed(ending)) }
        }
    }

    /// Writes the pairing to the registry; nil on success (or when this node records nothing).
    func record(_ peer: PairedPeer) -> RegistryFailure? {
        guard let registry else { return nil }
        var device = PairedDevice(peer: peer, pairedAt: sd_unix_time())
        defer { device.wipe() }
        switch registry.record(device) {
        case .success: return nil
        case .failure(let f): return f
        }
    }

    /// The exchange paired but the registry did not keep it: say so as `RunEnding` words it, and end.
    func unrecorded(_ failure: RegistryFailure, board: Bool, _ peer: PairedPeer) {
        let ending = RunEnding.unrecorded(failure, board: board, deviceID: peer.deviceInfo.deviceID.uuidString)
        events.emit(.failed(reason: ending.event))
        finish(.failed(ending.outcome))
    }

    /// The result line, printed only once the pairing is durably recorded.
    func announcePaired(_ peer: PairedPeer, relayed: Bool) {
        events.emit(.completed(deviceID: peer.deviceInfo.deviceID.uuidString, deviceName: peer.deviceInfo.name.string, relayed: relayed))
        say("PAIRED " + peer.deviceInfo.deviceID.uuidString + " " + peer.deviceInfo.name.string)
        control?.windowClosed(ControlReply(.paired, peer.deviceInfo.deviceID.uuidString + " " + peer.deviceInfo.name.string))
        finish(.paired)
    }

    // MARK: Text

    struct Problem: Error { var text: String }

    static func describe(_ error: ConnectionError) -> String {
        switch error {
        case .negotiation(let e):
            switch e {
            case .malformed: "malformed protocol negotiation"
            case .oversized: "oversized protocol negotiation message"
            case .wrongHeader: "not a libp2p peer (wrong multistream header)"
            case .refused: "peer refused the protocol"
            case .tooManyProposals: "too many protocol proposals"
            }
        case .noise(let e):
            switch e {
            case .malformedMessage: "malformed Noise handshake message"
            case .decryptFailed: "Noise decryption failed (tampered or wrong keys)"
            case .invalidPayload: "invalid Noise handshake payload"
            case .unsupportedIdentityKey: "peer identity key is not Ed25519"
            case .invalidIdentitySignature: "peer identity signature does not verify"
            case .weakKey: "peer sent a weak key"
            case .nonceExhausted: "Noise nonce exhausted"
            case .bufferTooSmall: "Noise message too large"
            }
        case .yamux(let e):
            switch e {
            case .badVersion: "bad yamux version"
            case .unknownType: "unknown yamux frame type"
            case .protocolViolation: "yamux protocol violation"
            case .outputFull: "output buffer full"
            case .streamNotWritable: "stream not writable"
            case .goingAway: "session going away"
            }
        case .outputFull: "output buffer full"
        case .closed: "connection closed"
        }
    }

    static func milliseconds(_ nanoseconds: UInt64) -> String {
        let hundredths = nanoseconds / 10_000
        let fraction = hundredths % 100
        return String(hundredths / 100) + "." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
