import CAvahi
import CSupport
import Pairing
import Transport
import Wire

/// mDNS/DNS-SD through a real avahi-daemon: the initiator publishes `_sd-pair._tcp` with its session id and peer
/// id while a window is open; the joiner browses, resolves, keeps the answers whose `sid` matches, and queues
/// them as candidates. Avahi runs inside the agent's loop (`AvahiLoop`).
///
/// avahi-daemon may be missing, stopped or restarted at any time (DESIGN §4): the client is created with
/// `AVAHI_CLIENT_NO_FAIL` (it waits for the daemon), and when even the D-Bus system bus is unreachable, or the
/// daemon drops us, the client is freed and re-created on a timer. Publishing and browsing are requests that
/// survive those restarts: they are re-applied each time the client reaches `S_RUNNING`.
public final class MDNS {
    public static let serviceType: StaticString = "_sd-pair._tcp"
    /// How often to try again when the bus or the daemon is away.
    static let retryMilliseconds: UInt64 = 2_000
    /// Resolutions in flight: every answering device costs one until it resolves or times out; further answers
    /// wait in `pending` (fixed, deduplicated) and are resolved as slots free, so none is lost.
    static let resolverCapacity = 8
    /// A resolution that has not answered by then (a name whose host has no address record, say) frees its slot.
    static let resolveTimeoutMilliseconds: UInt64 = 5_000

    private let loop: AvahiLoop
    private let log: (String) -> Void
    private var client: OpaquePointer? = nil
    private var group: OpaquePointer? = nil
    private var browser: OpaquePointer? = nil
    private var resolvers = InlineArray<8, OpaquePointer?>(repeating: nil)
    /// When each resolution must have answered.
    private var resolverDeadlines = InlineArray<8, UInt64>(repeating: 0)
    /// What each resolver slot is resolving, and the last answer that turned out to be our session's device: it is
    /// resolved again every `reresolveMilliseconds` while we look, since a device's address may change (DHCP, an
    /// interface coming up) or the first answer may have been an address nobody can reach.
    private var resolving = InlineArray<8, PendingAnswers.Answer?>(repeating: nil)
    private var matched: PendingAnswers.Answer? = nil
    private var reresolveAt: UInt64 = 0
    static let reresolveMilliseconds: UInt64 = 10_000
    /// Answers waiting for a resolver slot.
    private var pending = PendingAnswers()
    /// Resolutions given up since the last log line about it.
    private var resolveTimeouts = 0
    private var restartAt: UInt64? = nil
    private var needsRestart = false
    /// One notice per outage, one line when it ends.
    private var reportedUnavailable = false

    /// What to publish while a window is open.
    private var published: (name: String, port: UInt16, text: ServiceText)? = nil
    private var collisions = 0
    /// The session the joiner is looking for.
    private var wanted: SessionID? = nil
    /// Matching answers, for the joiner to dial.
    public var found = CandidateQueue()
    /// True once the client has been running at least once (tests and the first-hit notice).
    public private(set) var isRunning = false
    /// Joiner: `_sd-pair._tcp` services resolved so far, and how many of them were for another session.
    public private(set) var resolvedServices = 0
    public private(set) var otherSessions = 0

    public init(loop: AvahiLoop, log: @escaping (String) -> Void) {
        self.loop = loop
        self.log = log
    }

    deinit { freeClient() }

    private var userdata: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> MDNS? {
        guard let userdata else { return nil }
        return Unmanaged<MDNS>.fromOpaque(userdata).takeUnretainedValue()
    }

    // MARK: Requests

    /// Connects to avahi-daemon (or starts waiting for it).
    public func start() {
        guard client == nil else { return }
        var error: Int32 = 0
        let made = avahi_client_new(UnsafePointer(loop.api), AVAHI_CLIENT_NO_FAIL, { client, state, userdata in
            MDNS.from(userdata)?.clientChanged(client, state)
        }, userdata, &error)
        guard let made else {
            // No D-Bus system bus: NO_FAIL waits for the daemon, not for the bus. Try again later.
            unavailable("cannot reach the D-Bus system bus (" + Self.describe(error) + ")")
            restartAt = sd_monotonic_ms() + Self.retryMilliseconds
            return
        }
        client = made
        restartAt = nil
        if avahi_client_get_state(made) == AVAHI_CLIENT_S_RUNNING { clientRunning() }
    }

    /// Publishes the window's service (replacing any previous one).
    public func publish(name: String, port: UInt16, text: ServiceText) {
        withdraw()
        published = (Self.instanceName(name), port, text)
        collisions = 0
        if let client, avahi_client_get_state(client) == AVAHI_CLIENT_S_RUNNING { createGroup() }
    }

    /// Removes the service: the window closed.
    public func withdraw() {
        published = nil
        if let group { avahi_entry_group_free(group) }
        group = nil
    }

    /// Starts looking for the session `sid`.
    public func browse(for sid: SessionID) {
        wanted = sid
        if let client, avahi_client_get_state(client) == AVAHI_CLIENT_S_RUNNING { createBrowser() }
    }

    public func stopBrowsing() {
        wanted = nil
        freeBrowsing()
        pending.removeAll()
        found.removeAll()
        matched = nil
    }

    // MARK: Loop integration

    /// The next time `tick` has work (a client restart, a resolution's deadline), if any.
    public var nextDeadline: UInt64? {
        var next = restartAt
        for i in 0..<Self.resolverCapacity where resolvers[i] != nil { next = min(next ?? resolverDeadlines[i], resolverDeadlines[i]) }
        if matched != nil { next = min(next ?? reresolveAt, reresolveAt) }
        return next
    }

    /// After Avahi's callbacks ran: apply restarts that callbacks asked for (freeing a client inside its own
    /// callback is what Avahi warns about), and re-create the client when its retry time has come.
    public func tick(now: UInt64) {
        if needsRestart {
            needsRestart = false
            freeClient()
            restartAt = now + Self.retryMilliseconds
        }
        if let at = restartAt, now >= at {
            restartAt = nil
            start()
        }
        for i in 0..<Self.resolverCapacity where resolvers[i] != nil && now >= resolverDeadlines[i] {
            if let r = resolvers[i] { avahi_service_resolver_free(r) }
            resolvers[i] = nil
            resolveTimeouts += 1
        }
        if resolveTimeouts > 0 {
            log("mDNS: " + String(resolveTimeouts) + " answer(s) could not be resolved within "
                + String(Self.resolveTimeoutMilliseconds / 1000) + " s (no address?); moving on")
            resolveTimeouts = 0
        }
        let forgotten = pending.takeForgotten()
        if forgotten > 0 { log("mDNS: more answers than can wait; forgot the " + String(forgotten) + " oldest") }
        if now >= reresolveAt, let a = matched {
            pending.push(a)
            reresolveAt = now + Self.reresolveMilliseconds
        }
        resolvePending(now: now)
    }

    /// Starts resolutions for waiting answers while slots are free (here, outside Avahi's callbacks).
    private func resolvePending(now: UInt64) {
        guard let client, wanted != nil else { return }
        while let slot = freeResolverSlot(), let answer = pending.pop() {
            let resolver = answer.name.withUnsafeBytes { name in
                answer.domain.withUnsafeBytes { domain in
                    Self.withCString(name) { n in
                        Self.withCString(domain) { d in
                            avahi_service_resolver_new(
                                client, AvahiIfIndex(answer.interface), AvahiProtocol(answer.proto), n, Self.typeName, d,
                                AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiLookupFlags(0),
                                { resolver, interface, _, event, name, _, _, _, address, port, txt, _, userdata in
                                    MDNS.from(userdata)?.resolved(resolver, interface, event, name, address, port, txt)
                                }, userdata)
                        }
                    }
                }
            }
            guard let resolver else {
                log("mDNS: cannot resolve '" + answer.name.withUnsafeBytes { UntrustedText.printable($0) } + "': "
                    + Self.describe(avahi_client_errno(client)))
                continue
            }
            resolvers[slot] = resolver
            resolving[slot] = answer
            resolverDeadlines[slot] = now + Self.resolveTimeoutMilliseconds
        }
    }

    /// `bytes` as a NUL-terminated C string (a name of at most 64 bytes).
    static func withCString<R>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> R) -> R {
        var buffer = InlineArray<65, CChar>(repeating: 0)
        var span = buffer.mutableSpan
        return span.withUnsafeMutableBufferPointer { out in
            for (i, b) in bytes.enumerated() where i < 64 { out[i] = CChar(bitPattern: b) }
            return body(UnsafePointer(out.baseAddress!))
        }
    }

    // MARK: Client

    private func clientChanged(_ c: OpaquePointer?, _ state: AvahiClientState) {
        if client == nil { client = c }  // the first call comes from inside avahi_client_new
        switch state {
        case AVAHI_CLIENT_S_RUNNING:
            clientRunning()
        case AVAHI_CLIENT_S_COLLISION, AVAHI_CLIENT_S_REGISTERING:
            // The host name changes; the daemon wants our records withdrawn and published again once running.
            if let group { avahi_entry_group_reset(group) }
        case AVAHI_CLIENT_CONNECTING:
            unavailable("waiting for avahi-daemon")
        case AVAHI_CLIENT_FAILURE:
            let error = c.map { avahi_client_errno($0) } ?? 0
            unavailable("avahi-daemon went away (" + Self.describe(error) + ")")
            needsRestart = true
        default:
            break
        }
    }

    private func clientRunning() {
        isRunning = true
        if reportedUnavailable {
            log("mDNS: avahi-daemon is back")
            reportedUnavailable = false
        }
        // After a daemon restart the old group and browser are gone with the old client.
        if published != nil && group == nil { createGroup() }
        if let group, avahi_entry_group_is_empty(group) != 0, published != nil { addService() }
        if wanted != nil && browser == nil { createBrowser() }
    }

    private func unavailable(_ why: String) {
        guard !reportedUnavailable else { return }
        reportedUnavailable = true
        log("notice: mDNS unavailable for now: " + why + "; carrying on with the other discovery paths and retrying")
    }

    private func freeClient() {
        // avahi_client_free also frees every group, browser and resolver made from the client.
        if let client { avahi_client_free(client) }
        client = nil
        group = nil
        browser = nil
        for i in 0..<Self.resolverCapacity { resolvers[i] = nil }
    }

    // MARK: Publishing

    private func createGroup() {
        guard let client, published != nil else { return }
        group = avahi_entry_group_new(client, { group, state, userdata in
            MDNS.from(userdata)?.groupChanged(group, state)
        }, userdata)
        guard group != nil else {
            log("mDNS: cannot create an entry group: " + Self.describe(avahi_client_errno(client)))
            return
        }
        addService()
    }

    private func addService() {
        guard let group, let service = published else { return }
        var list: UnsafeMutablePointer<AvahiStringList>? = nil
        for entry in service.text.entries.reversed() { list = entry.withCString { avahi_string_list_add(list, $0) } }
        defer { avahi_string_list_free(list) }
        let rc = service.name.withCString { name in
            avahi_entry_group_add_service_strlst(
                group, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), AvahiPublishFlags(0), name, Self.typeName, nil, nil, service.port, list)
        }
        if rc == AVAHI_ERR_COLLISION {
            renameAfterCollision()
            return
        }
        guard rc >= 0 else {
            log("mDNS: cannot publish the service: " + Self.describe(rc))
            return
        }
        let committed = avahi_entry_group_commit(group)
        if committed < 0 { log("mDNS: cannot publish the service: " + Self.describe(committed)) }
    }

    private func groupChanged(_ g: OpaquePointer?, _ state: AvahiEntryGroupState) {
        switch state {
        case AVAHI_ENTRY_GROUP_ESTABLISHED:
            if let name = published?.name { log("mDNS: published '" + name + "'") }
        case AVAHI_ENTRY_GROUP_COLLISION:
            renameAfterCollision()
        case AVAHI_ENTRY_GROUP_FAILURE:
            if let client { log("mDNS: publishing failed: " + Self.describe(avahi_client_errno(client))) }
        default:
            break
        }
    }

    /// Another service on the LAN has our instance name (two NAS boxes with the same name): take Avahi's
    /// alternative ("name #2") and publish again, a bounded number of times.
    private func renameAfterCollision() {
        guard let group, let service = published else { return }
        collisions += 1
        guard collisions <= 8 else {
            log("mDNS: too many name collisions; not published")
            return
        }
        guard let alternative = service.name.withCString({ avahi_alternative_service_name($0) }) else { return }
        let renamed = String(cString: alternative)
        avahi_free(alternative)
        published = (renamed, service.port, service.text)
        avahi_entry_group_reset(group)
        addService()
    }

    // MARK: Browsing

    private func createBrowser() {
        guard let client, browser == nil else { return }
        browser = avahi_service_browser_new(
            client, AvahiIfIndex(AVAHI_IF_UNSPEC), AvahiProtocol(AVAHI_PROTO_UNSPEC), Self.typeName, nil, AvahiLookupFlags(0),
            { _, interface, proto, event, name, type, domain, _, userdata in
                MDNS.from(userdata)?.browsed(interface, proto, event, name, type, domain)
            }, userdata)
        if browser == nil { log("mDNS: cannot browse: " + Self.describe(avahi_client_errno(client))) }
    }

    private func freeBrowsing() {
        for i in 0..<Self.resolverCapacity {
            if let r = resolvers[i] { avahi_service_resolver_free(r) }
            resolvers[i] = nil
        }
        if let browser { avahi_service_browser_free(browser) }
        browser = nil
    }

    private func browsed(
        _ interface: AvahiIfIndex, _ proto: AvahiProtocol, _ event: AvahiBrowserEvent,
        _ name: UnsafePointer<CChar>?, _ type: UnsafePointer<CChar>?, _ domain: UnsafePointer<CChar>?
    ) {
        switch event {
        case AVAHI_BROWSER_NEW, AVAHI_BROWSER_REMOVE:
            guard wanted != nil else { return }
            // Queued, and resolved from tick() as slots free: never dropped for arriving while others resolve.
            guard let answer = Self.answer(interface, proto, name, domain) else {
                log("mDNS: ignoring '" + Self.printable(name) + "': name or domain over 64 bytes or not UTF-8")
                return
            }
            if event == AVAHI_BROWSER_NEW {
                pending.push(answer)
            } else {
                pending.remove(answer)
                if matched == answer { matched = nil }
            }
        case AVAHI_BROWSER_FAILURE:
            if let client { log("mDNS: browsing failed: " + Self.describe(avahi_client_errno(client))) }
        default:
            break
        }
    }

    static func answer(_ interface: AvahiIfIndex, _ proto: AvahiProtocol, _ name: UnsafePointer<CChar>?, _ domain: UnsafePointer<CChar>?) -> PendingAnswers.Answer? {
        guard let name, let domain, let n = text(name), let d = text(domain) else { return nil }
        return PendingAnswers.Answer(interface: Int32(interface), proto: Int32(proto), name: n, domain: d)
    }

    static func text(_ c: UnsafePointer<CChar>) -> FixedText<64>? {
        var n = 0
        while n <= 64 && c[n] != 0 { n += 1 }
        guard n <= 64 else { return nil }
        return try? FixedText<64>(validating: UnsafeRawBufferPointer(start: c, count: n))
    }

    private func freeResolverSlot() -> Int? {
        for i in 0..<Self.resolverCapacity where resolvers[i] == nil { return i }
        return nil
    }

    private func resolved(
        _ resolver: OpaquePointer?, _ interface: AvahiIfIndex, _ event: AvahiResolverEvent, _ name: UnsafePointer<CChar>?,
        _ address: UnsafePointer<AvahiAddress>?, _ port: UInt16, _ txt: UnsafeMutablePointer<AvahiStringList>?
    ) {
        // One answer per resolver: free it now (Avahi allows it in the callback) and release its slot.
        var answer: PendingAnswers.Answer? = nil
        for i in 0..<Self.resolverCapacity where resolvers[i] == resolver {
            resolvers[i] = nil
            answer = resolving[i]
        }
        defer { if let resolver { avahi_service_resolver_free(resolver) } }
        guard event == AVAHI_RESOLVER_FOUND, let address, let wanted else { return }
        let text: ServiceText
        switch Self.parse(txt) {
        case .failure(let e):
            log("mDNS: ignoring '" + Self.printable(name) + "': " + e.text)
            return
        case .success(let t): text = t
        }
        resolvedServices += 1
        guard text.sessionID == wanted else {
            otherSessions += 1
            log("mDNS: ignoring '" + Self.printable(name) + "': another pairing session (if that is the device you are pairing with, it shows another code: check the code)")
            return
        }
        // Our session's device: resolve it again later.
        if let answer { matched = answer }
        guard port != 0, let (host, linkLocal) = Self.host(address) else {
            log("mDNS: ignoring '" + Self.printable(name) + "': no usable address")
            return
        }
        let candidate = Candidate(
            address: Multiaddr(host: host, port: port, peer: text.peer), scope: linkLocal ? UInt32(bitPattern: interface) : 0, source: .mdns)
        found.push(candidate)
        // The device's other addresses, from its TXT record: the one Avahi resolved may be an alias that leads
        // nowhere. Only those this host can reach (the same rule as for the DHT's).
        for other in text.hosts where other != host && AddressScope.isDialable(other) {
            found.push(Candidate(address: Multiaddr(host: other, port: port, peer: text.peer), scope: 0, source: .mdns))
        }
    }

    /// Reads the TXT list through Avahi's accessors, without copying it.
    static func parse(_ txt: UnsafeMutablePointer<AvahiStringList>?) -> Result<ServiceText, ServiceTextError> {
        var parser = ServiceText.Parser()
        var node = txt
        var steps = 0
        while let current = node, steps <= ServiceText.maxEntries {
            steps += 1
            let entry = UnsafeRawBufferPointer(start: avahi_string_list_get_text(current), count: Int(avahi_string_list_get_size(current)))
            if case .failure(let e) = Self.add(&parser, entry) { return .failure(e) }
            node = avahi_string_list_get_next(current)
        }
        if node != nil { return .failure(.tooManyEntries) }
        return finish(parser)
    }

    static func add(_ parser: inout ServiceText.Parser, _ entry: UnsafeRawBufferPointer) -> Result<Void, ServiceTextError> {
        do { try parser.add(entry) } catch { return .failure(error) }
        return .success(())
    }

    static func finish(_ parser: ServiceText.Parser) -> Result<ServiceText, ServiceTextError> {
        do { return .success(try parser.finish()) } catch { return .failure(error) }
    }

    /// The address as a multiaddr host; `linkLocal` when it needs the interface as its scope.
    static func host(_ address: UnsafePointer<AvahiAddress>) -> (Multiaddr.Host, Bool)? {
        var data = address.pointee.data
        return withUnsafeBytes(of: &data) { raw -> (Multiaddr.Host, Bool)? in
            switch address.pointee.proto {
            case AvahiProtocol(AVAHI_PROTO_INET):
                var b = FixedBytes<4>()
                for i in 0..<4 { b[i] = raw[i] }
                return (.ip4(b), false)
            case AvahiProtocol(AVAHI_PROTO_INET6):
                var b = FixedBytes<16>()
                for i in 0..<16 { b[i] = raw[i] }
                return (.ip6(b), b[0] == 0xfe && b[1] & 0xc0 == 0x80)
            default:
                return nil
            }
        }
    }

    // MARK: Text

    static var typeName: UnsafePointer<CChar> { UnsafeRawPointer(serviceType.utf8Start).assumingMemoryBound(to: CChar.self) }

    /// A DNS-SD instance name is at most 63 bytes; cut the device name at a character boundary.
    static func instanceName(_ name: String) -> String {
        var copy = name
        return copy.withUTF8 { utf8 -> String in
            guard utf8.count > 63 else { return name }
            var end = 63
            while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: utf8[0..<end]), as: UTF8.self)
        }
    }

    /// A name from the network, safe for a log line: at most 64 bytes, anything `UntrustedText` forbids shown as "?".
    static func printable(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        var n = 0
        while n < 256 && text[n] != 0 { n += 1 }  // an mDNS label is at most 63 bytes; a longer string is cut anyway
        return UntrustedText.printable(UnsafeRawBufferPointer(start: text, count: n))
    }

    public enum DaemonState { case running, collision, starting, noDaemon, noBus }

    /// For `doctor`: connects to avahi-daemon once, without waiting for it, and says how it is — with its host name
    /// when it has one, else the error's text. Blocks for D-Bus round trips (a one-shot command, not the loop).
    public static func probe() -> (DaemonState, String) {
        // A daemon that just started is registering its host name for a second or two: ask again, 3 s at most.
        for _ in 0..<12 {
            let (state, text) = probeOnce()
            guard state == .starting else { return (state, text) }
            sd_sleep_ms(250)
        }
        return probeOnce()
    }

    static func probeOnce() -> (DaemonState, String) {
        let loop = AvahiLoop()
        var error: Int32 = 0
        guard let client = avahi_client_new(UnsafePointer(loop.api), AvahiClientFlags(rawValue: 0), { _, _, _ in }, nil, &error) else {
            return (error == AVAHI_ERR_NO_DAEMON ? .noDaemon : .noBus, describe(error))
        }
        defer { avahi_client_free(client) }
        let name = avahi_client_get_host_name_fqdn(client).map { String(cString: $0) } ?? "?"
        switch avahi_client_get_state(client) {
        case AVAHI_CLIENT_S_RUNNING: return (.running, name)
        case AVAHI_CLIENT_S_COLLISION: return (.collision, name)
        default: return (.starting, name)
        }
    }

    static func describe(_ error: Int32) -> String {
        guard let text = avahi_strerror(error) else { return "error " + String(error) }
        return String(cString: text)
    }
}
