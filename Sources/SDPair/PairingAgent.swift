import Agent
import Crypto
import Discovery
import EventLoop
import Pairing
import Registry
import Synchronization
import Transport
import Wire

/// The agent as a library, for a vendor's own Swift daemon: the seed's two entry points, `startPairingAsInitiator`
/// and `startPairingAsJoiner`, each running one pairing on the calling thread in the agent's own `poll()` loop and
/// reporting every state change to a callback (on that same thread). Pairings are recorded in the same registry as
/// the `sd-pair` command's, so `sd-pair devices` lists them.
///
///     let agent = try PairingAgent(PairingConfiguration(stateDirectory: "/var/lib/my-nas/pairing"))
///     let result = agent.startPairingAsInitiator { state in
///         if case .waiting(let code, _, let seconds) = state { lcd.show(code, seconds) }
///     }
///
/// One pairing at a time per agent (a second start, from any thread, is refused); `cancel()` ends it from any thread.
public final class PairingAgent: @unchecked Sendable {  // mutable state: `running` (atomic), `boundList` (behind `boundBusy`); the rest is fixed after init
    public let configuration: PairingConfiguration
    private var identity: DeviceIdentity
    private let device: DeviceInfo
    private let listen: [Multiaddr]
    private let dht: DHTSettings?
    private let relays: [Multiaddr]
    private let wake: WakePipe
    private let running = Atomic<Bool>(false)
    /// `listeningAddresses` is read from any thread while the pairing's thread writes it. Each critical section is a
    /// copy or an append, so a spin on an atomic flag is enough (and Embedded Swift, which the C library can be built
    /// with, has no `Mutex` on Linux).
    private let boundBusy = Atomic<Bool>(false)
    private var boundList: [String] = []

    /// The listeners' addresses of the running initiator (with their bound ports and our peer id), for a joiner
    /// that is told where to dial instead of discovering. Empty while no window is open.
    public var listeningAddresses: [String] { withBound { $0 } }

    /// Checks every setting, then loads the identity from the state directory (creating both on first use). The
    /// settings come first, so that a bad one touches nothing on disk and no secret is loaded only to be wiped.
    public init(_ configuration: PairingConfiguration) throws(PairingAgentError) {
        self.configuration = configuration
        var addresses: [Multiaddr] = []
        for text in configuration.listen {
            guard let a = try? Multiaddr(text: text) else { throw .invalidSetting("listen: not an /ip4 or /ip6 TCP multiaddr: " + text) }
            addresses.append(a)
        }
        listen = addresses
        var bootstrap: [Multiaddr] = []
        for text in configuration.dhtBootstrap {
            guard let a = try? Multiaddr(text: text), a.peer != nil else {
                throw .invalidSetting("dhtBootstrap: needs /ip4|ip6/…/tcp/…/p2p/<id>: " + text)
            }
            bootstrap.append(a)
        }
        var relayList: [Multiaddr] = []
        for text in configuration.relays {
            guard let a = try? Multiaddr(text: text), a.peer != nil, a.relay == nil else { throw .invalidSetting("relays: needs /ip4|ip6/…/tcp/…/p2p/<id>: " + text) }
            relayList.append(a)
        }
        guard relayList.count <= 4 else { throw .invalidSetting("relays: 4 at most") }
        relays = relayList
        guard DHTSettings.isValid(protocolID: configuration.dhtProtocol) else {
            throw .invalidSetting("dhtProtocol must be a protocol id like /ipfs/kad/1.0.0")
        }
        dht = bootstrap.isEmpty ? nil : DHTSettings(bootstrap: bootstrap, protocolID: configuration.dhtProtocol, records: configuration.dhtRecords)
        guard configuration.policy() != nil else {
            throw .invalidSetting("expirySeconds must be 60–600 and maxFailedAttempts 1–100")
        }
        guard let pipe = WakePipe() else { throw .system("cannot create a pipe") }
        wake = pipe
        var loaded: DeviceIdentity
        switch DeviceIdentity.loadOrCreate(stateDirectory: configuration.stateDirectory) {
        case .success(let i): loaded = i
        case .failure(let e): throw .stateDirectory(e.message)
        }
        guard let made = try? DeviceInfo.make(
            deviceID: loaded.deviceID, name: configuration.deviceName ?? HostFacts.hostName, type: configuration.deviceType,
            osVersion: HostFacts.osVersion, appVersion: configuration.appVersion)
        else {
            loaded.keys.wipe()
            throw .invalidSetting("deviceName must be 1 to 64 bytes of text without control characters")
        }
        identity = loaded
        device = made
    }

    deinit { identity.keys.wipe() }

    /// This device's libp2p peer id (what `/p2p/<id>` in a multiaddr names).
    public var peerID: String { PeerID(publicKey: identity.keys.publicKey).text }

    /// This device's id in the registry of the devices it pairs with.
    public var deviceID: String { identity.deviceID.uuidString }

    /// Opens one pairing window with a new code, advertised on the enabled discovery paths, and waits until a device
    /// pairs, the code expires or burns, or `cancel()`. `onState` first gets `.waiting` with the code to show.
    public func startPairingAsInitiator(onState: @escaping (PairingState) -> Void) -> PairingResult {
        do { return try beginPairingAsInitiator(onState: onState).run() } catch { return .failed(reason: error.message) }
    }

    /// Pairs with the device showing `code` (12 words, any case, 4-letter prefixes accepted, found by mDNS and the
    /// DHT; or a short code's 12 digits, dashes optional, found by mDNS), or dialled at `peer` (a multiaddr, `/p2p/<id>` checked) when given. Waits until paired, failed, expired
    /// or cancelled.
    public func startPairingAsJoiner(code text: String, peer: String? = nil, onState: @escaping (PairingState) -> Void)
        throws(PairingAgentError) -> PairingResult
    {
        do { return try beginPairingAsJoiner(code: text, peer: peer, onState: onState).run() } catch {
            if case .busy = error { return .failed(reason: error.message) }
            throw error
        }
    }

    /// `startPairingAsInitiator` for a program with its own loop: opens the window (`onState` gets `.waiting` before
    /// this returns) and hands back the session to step. Throws `.busy` while another pairing runs on this agent,
    /// `.system` when a listener cannot be opened.
    public func beginPairingAsInitiator(onState: @escaping (PairingState) -> Void) throws(PairingAgentError) -> PairingSession {
        guard begin() else { throw .busy }
        let policy = configuration.policy()!  // checked in init
        let short = configuration.codeMode == .short
        var (window, words) = InitiatorWindow.open(device: device, policy: policy, short: short)
        defer { words.wipe() }
        let (events, completed) = Self.sink(onState)
        let node = Node(
            identity: identity.keys, task: .serve(window: window, echo: false), registry: DeviceRegistry(directory: configuration.stateDirectory),
            handshakeTimeoutMilliseconds: UInt64(configuration.handshakeTimeoutSeconds) * 1000, discovery: discovery(), dht: short ? nil : dht,
            say: { _ in }, log: configuration.log)
        node.events = events
        node.portMapping = configuration.portMapping
        node.configuredRelays = relays
        let session = PairingSession(node: node, completed: completed, release: end)
        for address in listen {
            switch node.listen(address) {
            case .success(let address): withBound { $0.append(address.text) }
            case .failure(let e): throw .system("cannot listen on " + address.text + ": " + e.name)  // the session's end frees the agent
            }
        }
        // The String handed to the callback is the embedder's copy (ours is wiped when this call returns).
        onState(.waiting(code: words.string, sessionID: window.sessionID.uuidString, expiresIn: policy.expirySeconds))
        node.start(signals: wake.reader, now: PairingSession.now())
        return session
    }

    /// `startPairingAsJoiner` for a program with its own loop: checks the code, starts looking (or dialling `peer`)
    /// and hands back the session to step. Throws as `startPairingAsJoiner` does, and `.busy` while another pairing
    /// runs on this agent.
    public func beginPairingAsJoiner(code text: String, peer: String? = nil, onState: @escaping (PairingState) -> Void)
        throws(PairingAgentError) -> PairingSession
    {
        var code: PairingCode
        do { code = try PairingCode.parse(text) } catch { throw .invalidCode(error.message) }
        defer { code.wipe() }
        var address: Multiaddr? = nil
        if let peer {
            guard let a = try? Multiaddr(text: peer) else { throw .invalidSetting("peer: not an /ip4 or /ip6 TCP multiaddr: " + peer) }
            address = a
        } else if !configuration.mdns && (dht == nil || code.isShort) {
            throw .invalidSetting("no way to find the device: give peer, or enable mDNS or DHT bootstrap peers")
        }
        guard begin() else { throw .busy }
        let policy = configuration.policy()!
        let session = JoinerSession(
            code: code, identity: identity.keys, localDevice: device, policy: policy, now: Instant(milliseconds: MonotonicClock.milliseconds()))
        let (events, completed) = Self.sink(onState)
        let node = Node(
            identity: identity.keys, task: .join(session: session, peer: address), registry: DeviceRegistry(directory: configuration.stateDirectory),
            handshakeTimeoutMilliseconds: UInt64(configuration.handshakeTimeoutSeconds) * 1000,
            discovery: address == nil ? discovery() : nil, dht: address == nil && !code.isShort ? dht : nil, say: { _ in }, log: configuration.log)
        node.events = events
        node.start(signals: wake.reader, now: PairingSession.now())
        return PairingSession(node: node, completed: completed, release: end)
    }

    /// Ends the running pairing (its result: `.cancelled`). Safe from any thread and from a signal handler; a
    /// cancel while no pairing runs is forgotten when the next one starts.
    public func cancel() { wake.send(SignalPipe.terminate) }

    // MARK: Pieces

    /// Claims the agent for one pairing; a cancel sent while none ran is forgotten.
    private func begin() -> Bool {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        while wake.reader.next() != nil {}
        return true
    }

    private func withBound<T>(_ body: (inout [String]) -> T) -> T {
        while !boundBusy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {}
        defer { boundBusy.store(false, ordering: .releasing) }
        return body(&boundList)
    }

    /// A session's end: the agent is free for the next pairing.
    private func end() {
        withBound { $0 = [] }
        running.store(false, ordering: .releasing)
    }

    private func discovery() -> Discovery? {
        guard configuration.mdns || dht != nil else { return nil }
        return Discovery(mdns: configuration.mdns, log: configuration.log)
    }

    /// The paired device, caught from the `completed` event (the node's outcome only says "paired").
    final class Completed {
        var value: (deviceID: String, deviceName: String)? = nil
    }

    private static func sink(_ onState: @escaping (PairingState) -> Void) -> (EventSink, Completed) {
        let completed = Completed()
        let sink = EventSink { event in
            if case .completed(let id, let name, _) = event { completed.value = (id, name) }
            onState(event)
        }
        return (sink, completed)
    }

    static func result(_ outcome: NodeOutcome, _ completed: (deviceID: String, deviceName: String)?) -> PairingResult {
        switch outcome {
        case .paired: completed.map { .paired(deviceID: $0.deviceID, deviceName: $0.deviceName) } ?? .failed(reason: "paired without a device")
        case .interrupted: .cancelled
        case .failed(let why): RunEnding.isCodeExpiry(why) ? .expired : .failed(reason: why)
        case .pinged: .failed(reason: "unexpected outcome")
        }
    }
}

/// A state change of a pairing, delivered to the callback (the seed's `PairingState`, with the data a UI shows).
public typealias PairingState = PairingEvent

public enum PairingResult: Equatable, Sendable {
    /// Both sides proved the code and their identities; the device and its session keys are in the registry.
    case paired(deviceID: String, deviceName: String)
    case expired
    case cancelled
    /// Refused (wrong code, burned code, wrong identity), a network failure, or the registry could not record it.
    case failed(reason: String)
}

public enum PairingAgentError: Error, Equatable, Sendable {
    /// The state directory or the identity in it cannot be used (the message says why).
    case stateDirectory(String)
    case invalidSetting(String)
    /// The code is not 12 BIP39 words with a valid checksum (the message names the word).
    case invalidCode(String)
    case system(String)
    /// Another pairing runs on this agent (one at a time).
    case busy

    /// The sentence: what the blocking calls report as `.failed(reason:)`.
    public var message: String {
        switch self {
        case .busy: "a pairing is already running on this agent"
        case .stateDirectory(let m), .invalidSetting(let m), .invalidCode(let m), .system(let m): m
        }
    }
}

/// What an embedded agent is; the defaults are the `sd-pair` command's.
/// How an initiator's code looks (PairingConfiguration.codeMode).
public enum CodeMode: Sendable, Equatable {
    case words
    case short
}

public struct PairingConfiguration: Sendable {
    /// Identity and registry (`identity`, `devices`), created 0700 if missing.
    public var stateDirectory: String
    /// Shown to the other device; nil: the host name.
    public var deviceName: String? = nil
    public var deviceType: DeviceType = .server
    public var appVersion = "0.1.0"
    /// Where the initiator listens (multiaddrs; port 0 picks one).
    public var listen = ["/ip4/0.0.0.0/tcp/0"]
    /// 60–600.
    public var expirySeconds: UInt32 = 300
    /// 1–100 failed attempts before the code is disabled.
    public var maxFailedAttempts = 5
    public var handshakeTimeoutSeconds = 10
    /// mDNS through avahi-daemon (a notice, not an error, when none runs).
    public var mdns = true
    /// The initiator's code: `.words` (12 BIP39 words, mDNS and the DHT) or `.short` (12 digits with a PAKE, for a
    /// small display; mDNS only). A joiner recognises the mode by the code's shape.
    public var codeMode = CodeMode.words
    /// Multiaddrs with /p2p/<id> of libp2p Kademlia peers; empty: no DHT path.
    public var dhtBootstrap: [String] = []
    public var dhtProtocol = DHTSettings.defaultProtocolID
    /// Ask the home router (NAT-PMP, then UPnP through `upnpc`) to forward a port while a window is open, so that
    /// devices on other networks can dial this one (DHT path only).
    public var portMapping = true
    /// Circuit relays (`/ip4/…/tcp/…/p2p/<id>`, 4 at most) to reserve a slot on first when no port can be mapped.
    public var relays: [String] = []
    /// `.ipns` (the public IPFS DHT stores nothing else) or `.sdPair` (`/sd-pair/<session>`, private DHTs only).
    public var dhtRecords = RendezvousKind.ipns
    /// One-line diagnostics (refused attempts, discovery notices); never secrets.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// nil when a setting is out of range.
    func policy() -> WindowPolicy? {
        guard (60...600).contains(expirySeconds), (1...120).contains(handshakeTimeoutSeconds) else { return nil }
        return try? WindowPolicy(expirySeconds: expirySeconds, maxFailedAttempts: maxFailedAttempts)
    }
}
