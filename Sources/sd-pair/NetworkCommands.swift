import Agent
import CSupport
import Discovery
import Crypto
import EventLoop
import Pairing
import Registry
import Transport
import Wire

/// `serve`, `invite`, `join` and `ping`: the commands that run the agent's poll loop.
enum NetworkCommands {
    static let defaultStateDirectory = "/var/lib/sd-pair"

    static let sharedValued: [StaticString] = [
        "--state-dir", "--name", "--device-type", "--expiry", "--handshake-timeout", "--display", "--display-cmd", "--events",
        "--dht-bootstrap", "--dht-protocol", "--dht-records",
    ]

    /// `--events json` (the only format), or off.
    static func eventSink(_ options: Options, command: String) -> Result<EventSink, UsageError> {
        guard let format = options.value("--events") else { return .success(.off) }
        if format.isExactly("json") { return .success(EventSink.json(fd: 1)) }
        // json:<fd>: a stream of their own (a pipe a web UI opened), so that no parser has to sift log lines.
        var fd: Int32 = format.startsWithExactly("json:") && format.utf8.count > 5 && format.utf8.count < 10 ? 0 : -1
        var k = 0
        for c in format.utf8 where fd >= 0 {
            if k >= 5 { fd = c >= 0x30 && c <= 0x39 ? fd * 10 + Int32(c - 0x30) : -1 }
            k += 1
        }
        guard fd >= 3, sd_fd_is_open(fd) == 1 else {
            return .failure(UsageError(command + ": --events takes json (on stdout) or json:<fd> (an open descriptor from 3 up, e.g. a pipe: --events json:3 3>pipe)"))
        }
        return .success(EventSink.json(fd: fd))
    }

    /// What `invite` and `serve` share, validated before anything touches the system.
    struct ListenerSettings {
        var events: EventSink
        var policy: WindowPolicy
        var addresses: [Multiaddr]
        /// No `--listen` given: the IPv6 half of the default may fail (a host without IPv6) without stopping us.
        var defaultListen: Bool
        var handshakeTimeoutMilliseconds: UInt64
        var display: CodeDisplay?
        /// `--qr`: also draw the code as a QR code on stdout.
        var qr: Bool
        var echo: Bool
        /// `--short` or `--code short`: a 12-digit code with a PAKE, for small displays (mDNS only).
        var short: Bool
        /// `--relay`: circuit relays to ask first (each with its /p2p/ id).
        var relays: [Multiaddr] = []

        static let valued: [StaticString] = sharedValued + ["--listen", "--max-attempts", "--code", "--display-format", "--relay"]
        static let switches: [StaticString] = ["--no-mdns", "--no-dht", "--no-port-mapping", "--qr", "--test-echo", "--short"]

        static func parse(_ options: Options, command: String) -> Result<ListenerSettings, UsageError> {
            guard options.positionals.isEmpty else { return .failure(UsageError(command + ": unexpected argument '" + options.positionals[0] + "'")) }
            let events: EventSink
            switch eventSink(options, command: command) {
            case .success(let sink): events = sink
            case .failure(let e): return .failure(e)
            }
            let policy: WindowPolicy
            switch windowPolicy(options, command: command) {
            case .success(let p): policy = p
            case .failure(let e): return .failure(e)
            }
            var addresses: [Multiaddr] = []
            // By default both families on one port (the second wildcard takes the first one's port, see `listen`):
            // Avahi announces the service on IPv6 too, with the one port it is given.
            for text in options.all("--listen").isEmpty ? ["/ip4/0.0.0.0/tcp/0", "/ip6/::/tcp/0"] : options.all("--listen") {
                switch parseAddress(text, command: command, option: "--listen") {
                case .success(let a): addresses.append(a)
                case .failure(let e): return .failure(e)
                }
            }
            let timeout: Int
            switch options.number("--handshake-timeout", in: 1...120, default: Int(AgentLimits.handshakeTimeoutMilliseconds / 1000), command: command) {
            case .success(let n): timeout = n
            case .failure(let e): return .failure(e)
            }
            if let path = options.value("--display"), let refusal = CodeDisplay.refusal(path) {
                return .failure(UsageError(command + ": --display: " + refusal))
            }
            let mode = options.value("--code") ?? "words"
            guard mode.isExactly("words") || mode.isExactly("short") else {
                return .failure(UsageError(command + ": --code must be words (12 words, the default) or short (12 digits, this network only)"))
            }
            var relays: [Multiaddr] = []
            for text in options.all("--relay") {
                switch parseAddress(text, command: command, option: "--relay") {
                case .success(let a):
                    guard a.peer != nil, a.relay == nil else { return .failure(UsageError(command + ": --relay needs the relay's peer id: " + text + "/p2p/<id>")) }
                    relays.append(a)
                case .failure(let e): return .failure(e)
                }
            }
            guard relays.count <= 4 else { return .failure(UsageError(command + ": at most 4 --relay")) }
            let layout = options.value("--display-format").map { CodeDisplay.Layout(name: $0) } ?? .words
            guard let layout else { return .failure(UsageError(command + ": --display-format must be words (4 lines of 3 words), lcd16x2 or lcd20x4")) }
            return .success(ListenerSettings(
                events: events, policy: policy, addresses: addresses, defaultListen: options.all("--listen").isEmpty,
                handshakeTimeoutMilliseconds: UInt64(timeout) * 1000,
                display: CodeDisplay(path: options.value("--display"), command: options.value("--display-cmd"), layout: layout, log: Output.error),
                qr: options.has("--qr"), echo: options.has("--test-echo"), short: options.has("--short") || mode.isExactly("short"), relays: relays))
        }
    }

    /// `invite`: one pairing window, then exit (0 when paired).
    static func invite(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "invite", valued: ListenerSettings.valued, switches: ListenerSettings.switches, config: true) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        let settings: ListenerSettings
        switch ListenerSettings.parse(options, command: "invite") {
        case .success(let v): settings = v
        case .failure(let e): return .failure(e)
        }
        if let delegated = InviteClient.run(stateDirectory: stateDirectory(options), events: settings.events, qr: settings.qr, short: settings.short) { return .success(delegated) }
        let me: (DeviceIdentity, DeviceInfo)
        switch localDevice(options, command: "invite", defaultType: .server) {
        case .success(let v): me = v
        case .failure(let e): return .failure(e)
        case .none: return .success(.environment)
        }
        var identity = me.0
        defer { identity.keys.wipe() }
        let dht: DHTSettings?
        switch dhtSettings(options, command: "invite", short: settings.short) {
        case .success(let d): dht = d
        case .failure(let e): return .failure(e)
        }
        var (window, words) = InitiatorWindow.open(device: me.1, policy: settings.policy, short: settings.short)
        defer { words.wipe() }
        let node = Node(
            identity: identity.keys, task: .serve(window: window, echo: settings.echo), registry: DeviceRegistry(directory: stateDirectory(options)),
            handshakeTimeoutMilliseconds: settings.handshakeTimeoutMilliseconds, discovery: discovery(options), dht: dht, say: Output.line, log: Output.error)
        let display = settings.display
        node.onWindowClosed = { display?.clear() }
        node.onTick = { display?.refresh(now: $0) }
        node.events = settings.events
        node.portMapping = !options.has("--no-port-mapping")
        node.configuredRelays = settings.relays
        guard listen(node, settings.addresses, ipv6Optional: settings.defaultListen) else { return .success(.environment) }
        sayPaths(mdns: !options.has("--no-mdns"), dht: dht)
        announce(words, window, settings)
        words.wipe()
        let result = node.run(signals: signals())
        display?.clear()
        return .success(finish(result))
    }

    /// `serve`: the long-running agent of a NAS. Opens a window at start (if asked, or — by default — while no
    /// device is paired yet) and on SIGUSR1; a window that ends does not end the daemon.
    static func serve(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "serve", valued: ListenerSettings.valued + ["--window-at-start"], switches: ListenerSettings.switches, config: true) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        let settings: ListenerSettings
        switch ListenerSettings.parse(options, command: "serve") {
        case .success(let v): settings = v
        case .failure(let e): return .failure(e)
        }
        let startMode = options.value("--window-at-start") ?? "auto"
        guard startMode.isExactly("auto") || startMode.isExactly("always") || startMode.isExactly("never") else {
            return .failure(UsageError("serve: --window-at-start must be auto, always or never"))
        }
        let me: (DeviceIdentity, DeviceInfo)
        switch localDevice(options, command: "serve", defaultType: .server) {
        case .success(let v): me = v
        case .failure(let e): return .failure(e)
        case .none: return .success(.environment)
        }
        var identity = me.0
        defer { identity.keys.wipe() }
        let registry = DeviceRegistry(directory: stateDirectory(options))
        var openAtStart = startMode.isExactly("always")
        if startMode.isExactly("auto") {
            switch registry.load() {
            case .success(let devices): openAtStart = devices.isEmpty
            case .failure(let f):
                Output.error(f.message)
                return .success(.environment)
            }
        }
        let dht: DHTSettings?
        switch dhtSettings(options, command: "serve", short: settings.short) {
        case .success(let d): dht = d
        case .failure(let e): return .failure(e)
        }
        let short = settings.short
        var first = openAtStart ? InitiatorWindow.open(device: me.1, policy: settings.policy, short: short) : nil
        defer { first?.words.wipe() }
        let device = me.1
        let (policy, display, events) = (settings.policy, settings.display, settings.events)
        let node = Node(
            identity: identity.keys, task: .serve(window: first?.window, echo: settings.echo), registry: registry,
            handshakeTimeoutMilliseconds: settings.handshakeTimeoutMilliseconds, daemon: true,
            openWindow: {
                let opened = InitiatorWindow.open(device: device, policy: policy, short: short)
                announce(opened.words, opened.window, settings)
                return opened
            }, discovery: discovery(options), dht: dht, say: Output.line, log: Output.error)
        node.onWindowClosed = { display?.clear() }
        node.onTick = { display?.refresh(now: $0) }
        node.events = events
        node.portMapping = !options.has("--no-port-mapping")
        node.configuredRelays = settings.relays
        // A code left on the display by a crash (kill -9, power loss) is dead: clear it before anything else shows.
        display?.clearLeftovers()
        // The control socket before the listeners: a second daemon on this state directory is told so, rather
        // than failing on a taken port.
        let controlPath = InviteClient.socketPath(stateDirectory: stateDirectory(options))
        switch ControlServer.open(path: controlPath) {
        case .success(let control): node.control = control
        case .failure(let e):
            if e.code == EADDRINUSE {
                Output.error("serve: another agent is serving " + stateDirectory(options) + " (its control socket " + controlPath + " answers)")
            } else {
                Output.error("serve: cannot create the control socket " + controlPath + ": " + e.name)
            }
            return .success(.environment)
        }
        defer { node.control?.close() }
        guard listen(node, settings.addresses, ipv6Optional: settings.defaultListen) else { return .success(.environment) }
        sayPaths(mdns: !options.has("--no-mdns"), dht: dht)
        Output.line("READY pid " + String(getpid()) + " (run `sd-pair invite` or send SIGUSR1 to open a pairing window)")
        if let opened = first {
            announce(opened.words, opened.window, settings)
            first?.words.wipe()
            sd_scrub_stack()  // from this frame, above the loop's: the calls that showed the words have returned
        }
        let result = node.run(signals: signals())
        display?.clear()
        return .success(finish(result))
    }

    /// Shows the code: a "CODE:" line for scripts, the greppable log line for people and journald, and what to run
    /// on the other device, ready to paste. When stdout is the journal, the words go there once: in the log line (no
    /// CODE: line, and the other-device line without them). Every line that holds the words is built in fixed
    /// storage and wiped (`SecretLine`); the caller wipes `words`.
    static func announce(_ words: CodeWords, _ window: InitiatorWindow<SystemRandom>, _ settings: ListenerSettings) {
        let journal = sd_stdout_is_journal() != 0
        var line = SecretLine()
        if !journal {
            line.append("CODE: ")
            line.append(words)
            line.append("\n")
            line.write(fd: 1)
            line.wipe()
        }
        line.append("sd-pair: pairing code: ")
        line.append(words)
        line.appendText(" (expires in " + String(window.policy.expirySeconds) + " s)\n")
        line.write(fd: 1)
        line.wipe()
        if settings.qr { printQR(words) }
        if !peerHint.isEmpty {
            line.append("sd-pair: on the other device: sd-pair join ")
            if journal {
                line.append("(it asks for the code)")
            } else {
                line.append("\"")
                line.append(words)
                line.append("\"")
            }
            line.appendText(" (to skip discovery, add --peer " + peerHint + ")\n")
            line.write(fd: 1)
            line.wipe()
        }
        settings.display?.show(words, expiresIn: window.policy.expirySeconds)
        settings.events.emitWaiting(words, sessionID: window.sessionID.uuidString, expiresIn: window.policy.expirySeconds)
    }

    /// `--qr`: the code as a QR code on stdout; without libqrencode, one line says so (the code is in the log line).
    static func printQR(_ words: CodeWords) {
        switch QRText.render(words, colours: sd_isatty(1) == 1) {
        case .success(var drawing):
            drawing.withUnsafeMutableBytes { raw in
                _ = sd_write_all(1, raw.baseAddress, raw.count)
                Sodium.wipe(raw)
            }
        case .failure(.libraryMissing): Output.error("--qr: libqrencode.so.4 is not installed (Debian: apt install libqrencode4); showing the words only")
        case .failure(.encodingFailed): Output.error("--qr: the code could not be encoded as a QR code; showing the words only")
        }
    }

    /// The first address a device elsewhere on the LAN could give `--peer` (for the line after the code).
    nonisolated(unsafe) static var peerHint = ""

    /// Opens the listeners; a wildcard one is shown as the concrete addresses behind it, one LISTEN line each.
    /// A wildcard `/tcp/0` listener after the first takes the first one's port, so that one port serves both
    /// families (what mDNS announces).
    /// A listener that other devices can reach (not loopback only).
    nonisolated(unsafe) static var listeningBeyondLoopback = false

    /// invite and serve, once listening: the ways another device can find this one, and a warning when it cannot
    /// (issue 17, item 2).
    static func sayPaths(mdns: Bool, dht: DHTSettings?) {
        guard listeningBeyondLoopback else {
            return Output.error("warning: listening on loopback only: no other device can reach this one (listen on /ip4/0.0.0.0/tcp/4001, say)")
        }
        let bootstrap = dht.map { "the DHT (" + String($0.bootstrap.count) + " bootstrap peer(s))" }
        guard mdns || bootstrap != nil else {
            return Output.error("warning: mDNS is off and there is no DHT path: the other device finds this one only with --peer " + peerHint)
        }
        Output.error("found by " + (mdns ? "mDNS on this network" + (bootstrap == nil ? "" : " and ") : "") + (bootstrap ?? "") + ", or with --peer " + peerHint)
    }

    static func listen(_ node: Node, _ addresses: [Multiaddr], ipv6Optional: Bool) -> Bool {
        var firstPort: UInt16 = 0
        for address in addresses {
            let result = node.listen(address.port == 0 && address.host.isUnspecified ? Multiaddr(host: address.host, port: firstPort) : address)
            guard case .success(let bound) = result else {
                guard case .failure(let e) = result else { continue }
                if case .ip6 = address.host, ipv6Optional {
                    Output.error("no IPv6 listener (" + e.name + "); listening on IPv4 only")
                    continue
                }
                Output.error("cannot listen on " + address.text + ": " + (e.code == E2BIG ? "more than " + String(Node.maxListeners) + " listen addresses" : e.name))
                return false
            }
            if firstPort == 0 { firstPort = bound.port }
            for a in Node.dialableAddresses(bound) {
                Output.line("LISTEN " + a.text)
                if AddressScope.of(a.host) != .loopback { listeningBeyondLoopback = true }
                if peerHint.isEmpty, AddressScope.of(a.host) != .loopback || addresses.count == 1 {
                    peerHint = Multiaddr(host: a.host, port: a.port).text
                }
            }
        }
        return true
    }

    static func join(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "join", valued: sharedValued + ["--peer"], switches: ["--no-mdns", "--no-dht"], config: true) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        let events: EventSink
        switch eventSink(options, command: "join") {
        case .success(let sink): events = sink
        case .failure(let e): return .failure(e)
        }
        var code: PairingCode
        switch typedCode(options.positionals) {
        case .success(let c): code = c
        case .failure(let e): return .failure(e)
        case .none: return .success(.usage)
        }
        defer { code.wipe() }
        var peer: Multiaddr? = nil
        if let peerText = options.value("--peer") {
            switch parseAddress(Self.multiaddrText(peerText), command: "join", option: "--peer") {
            case .success(let a):
                guard !a.host.isUnspecified else {
                    return .failure(UsageError("join: --peer " + peerText + " is where the device listens on all its addresses, not an address to dial; use one of the addresses of its network (its log's LISTEN lines, or ip addr on it)"))
                }
                peer = a
            case .failure(let e): return .failure(e)
            }
        } else if options.has("--no-mdns") && (options.has("--no-dht") || code.isShort) {
            return .failure(UsageError("join: " + (code.isShort ? "a short code is found by mDNS only; with --no-mdns" : "with --no-mdns and --no-dht") + ", give the device's address with --peer <multiaddr>"))
        }
        var dht: DHTSettings? = nil
        if peer == nil {
            switch dhtSettings(options, command: "join", short: code.isShort) {
            case .success(let d): dht = d
            case .failure(let e): return .failure(e)
            }
        }
        let policy: WindowPolicy
        switch windowPolicy(options, command: "join") {
        case .success(let p): policy = p
        case .failure(let e): return .failure(e)
        }
        let me: (DeviceIdentity, DeviceInfo)
        switch localDevice(options, command: "join", defaultType: .desktop) {
        case .success(let v): me = v
        case .failure(let e): return .failure(e)
        case .none: return .success(.environment)
        }
        var identity = me.0
        defer { identity.keys.wipe() }
        let session = JoinerSession(
            code: code, identity: identity.keys, localDevice: me.1, policy: policy, now: Instant(milliseconds: MonotonicClock.milliseconds()))
        let timeout: Int
        switch options.number("--handshake-timeout", in: 1...120, default: Int(AgentLimits.handshakeTimeoutMilliseconds / 1000), command: "join") {
        case .success(let n): timeout = n
        case .failure(let e): return .failure(e)
        }
        let node = Node(
            identity: identity.keys, task: .join(session: session, peer: peer), registry: DeviceRegistry(directory: stateDirectory(options)),
            handshakeTimeoutMilliseconds: UInt64(timeout) * 1000,
            discovery: peer == nil ? discovery(options) : nil, dht: dht, say: Output.line, log: Output.error)
        node.events = events
        return .success(finish(node.run(signals: signals())))
    }

    /// The code to join with: the words as one quoted argument or twelve, or — so that the live code is not in
    /// the process's argv (readable by every local user in /proc) nor in shell history — typed at a prompt (no
    /// argument, a terminal) or read from standard input (`-`, or no argument and no terminal). nil: a bad code,
    /// already reported.
    static func typedCode(_ positionals: [String]) -> Result<PairingCode, UsageError>? {
        // isExactly, not ==: String equality pulls Unicode normalisation tables into Embedded builds.
        let fromInput = positionals.isEmpty || (positionals.count == 1 && positionals[0].isExactly("-"))
        var line = InlineArray<1024, CChar>(repeating: 0)
        defer {
            var span = line.mutableSpan
            span.withUnsafeMutableBytes { Sodium.wipe($0) }
        }
        var text = ""
        if fromInput {
            var span = line.mutableSpan
            let n = span.withUnsafeMutableBufferPointer { sd_read_line("Type the code shown on the other device (12 words or 12 digits): ", $0.baseAddress, 1024) }
            if n == -ENODATA { return .failure(UsageError("join: no code on standard input; type the code shown on the other device")) }
            if n < 0 { return .failure(UsageError("join: cannot read the code from standard input (" + SystemError(-n).name + ")")) }
            text = line.span.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        } else {
            // One quoted argument or twelve unquoted ones: the words are the same either way.
            for (i, p) in positionals.enumerated() { text += (i > 0 ? " " : "") + p }
        }
        do { return .success(try PairingCode.parse(text)) } catch {
            Output.error(error.message)
            return nil
        }
    }

    static func ping(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "ping", valued: ["--count"], switches: []) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        guard options.positionals.count == 1 else { return .failure(UsageError("ping: give one multiaddr, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…")) }
        let peer: Multiaddr
        switch parseAddress(options.positionals[0], command: "ping", option: "address") {
        case .success(let a): peer = a
        case .failure(let e): return .failure(e)
        }
        let count: Int
        switch options.number("--count", in: 1...100, default: 3, command: "ping") {
        case .success(let n): count = n
        case .failure(let e): return .failure(e)
        }
        // Ping needs no lasting identity: a throwaway key is enough to run Noise.
        var rng = SystemRandom()
        var keys = Ed25519.KeyPair.generate(using: &rng)
        defer { keys.wipe() }
        let node = Node(identity: keys, task: .ping(peer: peer, count: count), say: Output.line, log: Output.error)
        return .success(finish(node.run(signals: signals())))
    }

    // MARK: Shared pieces

    static func finish(_ outcome: NodeOutcome) -> ExitCode {
        switch outcome {
        case .paired, .pinged: return .success
        case .interrupted: return .interrupted
        case .failed(let why):
            Output.error(why)
            return .pairingFailed
        }
    }

    static func signals() -> SignalPipe? {
        switch SignalPipe.install() {
        case .success(let pipe): return pipe
        case .failure(let e):
            Output.error("cannot install signal handlers: " + e.name)
            return nil
        }
    }

    /// 0.0.0.0 or ::, the listen-on-everything address: nothing to dial.
    /// `192.168.1.20:4001` or `[fd00::1]:4001`, as people write addresses, into its multiaddr; anything else as it is.
    static func multiaddrText(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.first != 0x2F, let colon = bytes.lastIndex(of: 0x3A), colon > 0, colon + 1 < bytes.count,
              bytes[(colon + 1)...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return text }
        let port = String(decoding: bytes[(colon + 1)...], as: UTF8.self)
        if bytes[0] == 0x5B, bytes[colon - 1] == 0x5D {
            return "/ip6/" + String(decoding: bytes[1..<(colon - 1)], as: UTF8.self) + "/tcp/" + port
        }
        return "/ip4/" + String(decoding: bytes[..<colon], as: UTF8.self) + "/tcp/" + port
    }

    static func parseAddress(_ text: String, command: String, option: String) -> Result<Multiaddr, UsageError> {
        do { return .success(try Multiaddr(text: text)) } catch {
            switch error {
            case .badPeerID: return .failure(UsageError(command + ": " + option + " has an invalid peer id: " + text))
            default: return .failure(UsageError(command + ": " + option + " must be /ip4/<addr>/tcp/<port>[/p2p/<id>] or /ip6/…, not " + text))
            }
        }
    }

    static func windowPolicy(_ options: Options, command: String) -> Result<WindowPolicy, UsageError> {
        let expiry: Int
        switch options.number("--expiry", in: 60...600, default: Int(WindowPolicy.defaultExpirySeconds), command: command) {
        case .success(let n): expiry = n
        case .failure(let e): return .failure(e)
        }
        let attempts: Int
        switch options.number("--max-attempts", in: WindowPolicy.attemptRange, default: WindowPolicy.defaultMaxFailedAttempts, command: command) {
        case .success(let n): attempts = n
        case .failure(let e): return .failure(e)
        }
        do { return .success(try WindowPolicy(expirySeconds: UInt32(expiry), maxFailedAttempts: attempts)) } catch {
            return .failure(UsageError(command + ": invalid window settings"))
        }
    }

    /// The identity from the state directory and this device's description. `.none` after printing an
    /// environment error (unusable state directory, corrupt identity).
    static func localDevice(_ options: Options, command: String, defaultType: DeviceType) -> Result<(DeviceIdentity, DeviceInfo), UsageError>? {
        var type = defaultType
        if let name = options.value("--device-type") {
            guard let t = DeviceType(name: name) else {
                return .failure(UsageError(command + ": --device-type must be desktop, laptop, mobile, server or other"))
            }
            type = t
        }
        let identity: DeviceIdentity
        if options.value("--state-dir") == nil, let own = userStateDirectory { _ = own.withCString { sd_mkdir_parents($0) } }
        switch DeviceIdentity.loadOrCreate(stateDirectory: stateDirectory(options)) {
        case .success(let i): identity = i
        case .failure(let e):
            Output.error(e.message)
            return nil
        }
        let name = options.value("--name") ?? HostFacts.hostName
        do {
            let info = try DeviceInfo.make(
                deviceID: identity.deviceID, name: name, type: type, osVersion: HostFacts.osVersion, appVersion: CommandLineTool.version)
            return .success((identity, info))
        } catch {
            return .failure(UsageError(command + ": --name must be 1 to 64 bytes of text without control characters"))
        }
    }

    static func stateDirectory(_ options: Options) -> String { options.value("--state-dir") ?? userStateDirectory ?? defaultStateDirectory }

    /// A user other than root (a laptop's owner) gets a state directory of their own, as the XDG base directory
    /// spec places it: $XDG_STATE_HOME/sd-pair, else ~/.local/state/sd-pair. Root and the service keep
    /// /var/lib/sd-pair (the unit passes its own with --state-dir).
    static var userStateDirectory: String? {
        guard sd_euid() != 0 else { return nil }
        if let x = sd_env("XDG_STATE_HOME"), x.pointee == 0x2F { return String(cString: x) + "/sd-pair" }
        if let h = sd_env("HOME"), h.pointee == 0x2F { return String(cString: h) + "/.local/state/sd-pair" }
        return nil
    }

    /// The discovery paths this run uses (`--no-mdns`, `--no-dht` turn them off); nil when both are off.
    static func discovery(_ options: Options) -> Discovery? {
        let mdns = !options.has("--no-mdns")
        guard mdns || !options.has("--no-dht") else { return nil }
        return Discovery(mdns: mdns, log: Output.error)
    }

    /// `--dht-bootstrap` (repeatable, each with its /p2p/ peer id), `--dht-protocol` and `--dht-records`. Nil with `--no-dht` or
    /// without bootstrap peers (one notice then: there is no DHT to ask).
    /// A short code never uses the DHT (Docs/THREAT-MODEL.md: a record would be a function of 8 digits).
    static func dhtSettings(_ options: Options, command: String, short: Bool = false) -> Result<DHTSettings?, UsageError> {
        guard !options.has("--no-dht") else { return .success(nil) }
        if short {
            if !options.all("--dht-bootstrap").isEmpty {
                Output.error("notice: a short code is found by mDNS on this network only; the DHT is not used (a record there would let anyone test guesses of the digits offline)")
            }
            return .success(nil)
        }
        var bootstrap: [Multiaddr] = []
        for text in options.all("--dht-bootstrap") {
            switch parseAddress(text, command: command, option: "--dht-bootstrap") {
            case .success(let a):
                guard a.peer != nil else { return .failure(UsageError(command + ": --dht-bootstrap needs the peer id: " + text + "/p2p/<id>")) }
                bootstrap.append(a)
            case .failure(let e): return .failure(e)
            }
        }
        let protocolID = options.value("--dht-protocol") ?? DHTSettings.defaultProtocolID
        guard DHTSettings.isValid(protocolID: protocolID) else { return .failure(UsageError(command + ": --dht-protocol must be a protocol id like /ipfs/kad/1.0.0 (at most 64 bytes)")) }
        var records = RendezvousKind.ipns
        if let kind = options.value("--dht-records") {
            if kind.isExactly("sd-pair") { records = .sdPair } else if !kind.isExactly("ipns") {
                return .failure(UsageError(command + ": --dht-records takes ipns (the public IPFS DHT) or sd-pair (a private DHT)"))
            }
        }
        if bootstrap.isEmpty {
            Output.error("notice: no DHT bootstrap peers (--dht-bootstrap or dht-bootstrap in the config); the DHT path is off")
            return .success(nil)
        }
        return .success(DHTSettings(bootstrap: bootstrap, protocolID: protocolID, records: records))
    }
}
