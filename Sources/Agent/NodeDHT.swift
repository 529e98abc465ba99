import CSupport
import Crypto
import Discovery
import EventLoop
import Pairing
import Transport
import Wire

/// Where the DHT is, how to speak to it and which record to use (`--dht-bootstrap`, `--dht-protocol`,
/// `--dht-records`).
public struct DHTSettings {
    public var bootstrap: [Multiaddr]
    public var protocolID: String
    public var records: RendezvousKind

    public static let defaultProtocolID = "/ipfs/kad/1.0.0"

    public init(bootstrap: [Multiaddr], protocolID: String = DHTSettings.defaultProtocolID, records: RendezvousKind = .ipns) {
        self.bootstrap = bootstrap
        self.protocolID = protocolID
        self.records = records
    }

    /// A protocol id we can propose: "/" then printable ASCII, 2–64 bytes (multistream lines stay short).
    public static func isValid(protocolID: String) -> Bool {
        var copy = protocolID
        return copy.withUTF8 { p in p.count >= 2 && p.count <= 64 && p[0] == 0x2F && !p.contains { $0 < 0x21 || $0 > 0x7E } }
    }
}

/// The DHT path of one window (initiator: find the k closest, then PUT_VALUE the record holding the sealed
/// advertisement) or one joining session (GET_VALUE until a record opens with the code). Fixed-size: one lookup
/// table, one record buffer; each request is one short libp2p connection with its own deadline.
struct DHTState {
    /// Which requests, and what comes after a round (`DHTSchedule`).
    var schedule: DHTSchedule
    var lookup: KadLookup
    var recordKey: RecordKey
    /// Initiator: the record to PUT (an IPNS record, or the sealed advertisement itself for `/sd-pair/`).
    var record = FixedBytes<1100>()
    var recordLength = 0
    /// Initiator: the record's IPNS sequence, one higher each time the window publishes it again (a new relay), so
    /// that DHT nodes replace the old one (the IPNS spec's selection: the higher sequence wins).
    var sequence: UInt64 = 0
    /// Joiner: what opens and verifies the record.
    var advertKey = SymmetricKey(bytes: FixedBytes<32>())
    var ipnsPublicKey = Ed25519.PublicKey(bytes: FixedBytes<32>())
    var stored = 0
    var refused = 0
    /// Requests DHT peers answered, over every round (the joiner's failure summary says it).
    var answers = 0
    /// Joiner: the advertisement opened, but none of its addresses can be dialled from this network.
    var unreachable = false

    mutating func wipe() {
        advertKey.wipe()
        record.withUnsafeMutableBytes { Sodium.wipe($0) }
    }
}

/// One Kademlia request on a link.
struct KadRequest {
    var entry: Int
    var kind: KadMessage.Kind
    var reader = KadResponseReader()
    var done = false
}

extension Node {
    // MARK: Starting and stopping

    /// Initiator: a window opened; find where its advertisement belongs. The record is sealed once the lookup is
    /// done (`sealRecord`), when the peers it asked have said which public address they see.
    func dhtPublish(_ window: InitiatorWindow<SystemRandom>, now: UInt64) {
        guard let settings = dhtSettings, !settings.bootstrap.isEmpty else { return }
        var ipnsSeed = window.ipnsSeed
        defer { ipnsSeed.wipe() }
        let recordKey = Self.recordKey(settings.records, window.sessionID, ipnsSeed)
        stopDHT()
        observedAddresses = ObservedAddresses()
        for a in configuredRelays { relay.note(a) }  // first in the list: asked before those the lookup finds
        dht = DHTState(schedule: .publishing, lookup: Self.lookup(recordKey, settings, own: peerID), recordKey: recordKey)
        log("DHT: looking for the peers closest to " + (settings.records == .ipns ? "/ipns/… (the window's name)" : window.sessionID.dhtKey))
    }

    /// The record for the open window, with the addresses known now; false if there is none to publish.
    func sealRecord(_ state: inout DHTState, now: UInt64) -> Bool {
        guard let settings = dhtSettings, case .serve(let window?, _) = task else { return false }
        var ipnsSeed = window.ipnsSeed
        defer { ipnsSeed.wipe() }
        // The window's end by the wall clock (IPNS validity is wall-clock time; our deadlines are monotonic).
        let remaining = window.deadline.milliseconds > now ? (window.deadline.milliseconds - now) / 1000 : 0
        let ad = Advertisement(peer: peerID, device: window.localDevice, addresses: advertisedAddresses(), expires: UInt64(max(0, sd_unix_time())) + remaining)
        var rng = SystemRandom()
        let key = state.recordKey
        let n = state.record.withUnsafeMutableBytes { out in
            Rendezvous.record(
                settings.records, key: key, advertisement: ad, advertKey: window.advertKey, ipnsSeed: ipnsSeed,
                sequence: settings.records == .ipns ? state.sequence : 0,  // an `/sd-pair/` record has no sequence to read back
                random: &rng, into: out)
        }
        guard let n else {
            log("DHT: the advertisement does not fit in a record; not published")
            return false
        }
        state.recordLength = n
        return true
    }

    /// Joiner: look for the session's advertisement.
    func dhtSearch(_ session: JoinerSession) {
        guard let settings = dhtSettings, !settings.bootstrap.isEmpty else { return }
        var ipnsSeed = session.ipnsSeed
        defer { ipnsSeed.wipe() }
        let recordKey = Self.recordKey(settings.records, session.sessionID, ipnsSeed)
        var state = DHTState(schedule: .searching, lookup: Self.lookup(recordKey, settings, own: peerID), recordKey: recordKey)
        state.advertKey = session.advertKey
        var keys = Rendezvous.ipnsKeys(seed: ipnsSeed)
        state.ipnsPublicKey = keys.publicKey
        keys.wipe()
        stopDHT()
        dht = state
    }

    static func recordKey(_ kind: RendezvousKind, _ session: SessionID, _ ipnsSeed: SymmetricKey) -> RecordKey {
        switch kind {
        case .sdPair: return RecordKey(sdPair: session)
        case .ipns:
            var keys = Rendezvous.ipnsKeys(seed: ipnsSeed)
            defer { keys.wipe() }
            return RecordKey(ipns: keys.publicKey)
        }
    }

    /// The window or session ended: drop the DHT requests in flight and wipe the state.
    func stopDHT() {
        for i in 0..<links.count where !links[i].isFree && links[i].kad != nil {
            links[i].kad = nil
            dropQuietly(i)
        }
        dht?.wipe()
        dht = nil
        stopRelay()
    }

    static func lookup(_ key: RecordKey, _ settings: DHTSettings, own: PeerID) -> KadLookup {
        var lookup = key.withUnsafeBytes { KadLookup(key: $0) }
        for b in settings.bootstrap {
            guard let id = b.peer else { continue }
            lookup.add(KadPeer(id: id, address: b), excluding: own)
        }
        return lookup
    }

    /// The addresses joiners can dial (`Advertisement.listing` orders them): the public ones, the relay's circuit,
    /// and each listener's own address, or the host's interface addresses for a wildcard listener.
    func advertisedAddresses() -> [Multiaddr] {
        var own: [Multiaddr] = []
        for l in listening { own += Self.dialableAddresses(Multiaddr(host: l.host, port: l.port)) }
        return Advertisement.listing(public: publicAddresses, circuit: relay.circuit, own: own)
    }

    /// What a person or a script can dial for listener `bound`: itself, or for a wildcard listener each address of
    /// its family on this host's interfaces (LAN addresses first), with its port and peer id; the wildcard itself
    /// when there is none (loopback only).
    public static func dialableAddresses(_ bound: Multiaddr) -> [Multiaddr] {
        guard bound.host.isUnspecified else { return [bound] }
        var v6 = false
        if case .ip6 = bound.host { v6 = true }
        var local: [Multiaddr] = []
        var global: [Multiaddr] = []
        for var a in interfaceAddresses(port: bound.port, ipv6: v6) {
            if case .ip4 = a.host, v6 { continue }
            a.peer = bound.peer
            if AddressScope.of(a.host) == .global { global.append(a) } else { local.append(a) }
        }
        return local.isEmpty && global.isEmpty ? [bound] : local + global
    }

    static func interfaceAddresses(port: UInt16, ipv6: Bool) -> [Multiaddr] {
        var raw = FixedBytes<136>()  // 8 slots of 17 bytes
        let n = raw.withUnsafeMutableBytes { sd_local_addresses($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8, ipv6 ? 1 : 0) }
        var out: [Multiaddr] = []
        for k in 0..<max(0, Int(n)) {
            out.append(Multiaddr(host: raw.withUnsafeBytes { Self.host(UnsafeRawBufferPointer(rebasing: $0[(17 * k)..<(17 * k + 17)])) }, port: port))
        }
        return out
    }

    // MARK: Driving the lookup (called from tick)

    func dhtTick(_ now: UInt64) {
        // Requests past their deadline fail; the lookup moves on to other peers.
        for i in 0..<links.count where !links[i].isFree && links[i].kad != nil && now >= links[i].deadline {
            dropQuietly(i)
        }
        guard var state = dht else { return }
        if state.schedule.request != nil {
            startRequests(now)
            guard var current = dht, current.lookup.isFinished else { return }
            finishRound(&current, now)
            dht = current
            return
        }
        switch state.schedule.due(now: now, relayDecided: relay.decided, idle: attempts.inFlight == 0 && discovery?.hasCandidate(skipping: { _ in false }) != true) {
        case .nothing:
            return
        case .lookAgain:
            // A joiner resting, or one whose record's addresses all failed while the code is still valid (the device
            // may have moved: its relay went away and it published again).
            guard let settings = dhtSettings else { return }
            state.lookup = Self.lookup(state.recordKey, settings, own: peerID)
        case .put(let relayTimedOut):
            if relayTimedOut { log("relay: no answer in 10 s; the record goes out without it") }
            beginPutting(&state, now)
        }
        dht = state
    }

    private func finishRound(_ state: inout DHTState, _ now: UInt64) {
        switch state.schedule.roundEnded(now: now, anyAnswered: state.lookup.anyAnswered) {
        case .noPeerAnswered:
            sayReachabilityAfterLookup()
            log("DHT: no peer answered; the advertisement is not stored (mDNS may still work)")
        case .closestFound:
            sayReachabilityAfterLookup()
            if needsRelay {
                // Not reachable from outside: a relay's address in the record lets devices elsewhere in anyway.
                if startReservation(now) { return state.schedule.reserving(until: now + RelayState.waitMilliseconds) }
                relayNone()
            }
            beginPutting(&state, now)
        case .stored:
            if state.stored == 0 && state.refused > 0 {
                // Name the likely causes: the two ways a well-behaved DHT refuses what we send.
                log("DHT: the advertisement was refused by " + String(state.refused) + " peer(s) and stored nowhere (with --dht-records sd-pair: the public"
                    + " IPFS DHT stores only IPNS records; otherwise: is this device's clock more than 48 h behind?)")
            } else {
                log("DHT: advertisement stored " + (state.sequence > 0 ? "again (with the new relay) on " : "on ") + String(state.stored) + " peer(s)" + (state.refused > 0 ? ", refused by " + String(state.refused) : ""))
            }
        case .resting, .none:
            break
        }
    }

    /// The record, sealed with what the lookup (and the relay) taught, goes to the closest peers that answered.
    private func beginPutting(_ state: inout DHTState, _ now: UInt64) {
        var targets = InlineArray<20, Int>(repeating: 0)
        let n = state.lookup.closestAnswered(&targets)
        guard sealRecord(&state, now: now) else { return state.schedule.stored() }
        for j in 0..<n { state.lookup.reset(targets[j]) }
        state.stored = 0
        state.refused = 0
        state.schedule.putting()
    }

    /// Dials the next peers the lookup wants asked, while `DHTSchedule.mayStartRequest` lets it.
    private func startRequests(_ now: UInt64) {
        for _ in 0..<KadLookup.alpha {
            guard var state = dht, let kind = state.schedule.request, DHTSchedule.mayStartRequest(freeLinks: linksFree) else { return }
            // PUT_VALUE reuses the lookup: the closest that answered FIND_NODE were reset to unasked for it.
            let i = state.lookup.next()
            dht = state
            guard let entry = i, let peer = dht?.lookup.entry(entry)?.peer else { return }
            guard let link = dialQuietly(peer.address, now: now) else {
                dht?.lookup.failed(entry)
                continue
            }
            links[link].kad = KadRequest(entry: entry, kind: kind)
            links[link].deadline = now + DHTSchedule.requestTimeoutMilliseconds
        }
    }

    var linksFree: Int { links.reduce(0) { $0 + ($1.isFree ? 1 : 0) } }

    // MARK: Connections for requests

    /// Dials without reporting to the pairing task (a DHT peer that cannot be reached is just skipped).
    func dialQuietly(_ peer: Multiaddr, now: UInt64) -> Int? {
        guard let i = freeLink() else { return nil }
        switch Net.connect(host: peer.hostText, port: peer.port) {
        case .failure: return nil
        case .success(let fd):
            setUp(i, fd: fd, role: .dialer, connecting: true, now: now)
            links[i].expected = peer.peer
            links[i].dialled = peer
            return i
        }
    }

    /// Closes a request's connection; an unanswered request counts as a failed peer.
    func dropQuietly(_ i: Int) {
        if !links[i].isFree { release(i, "closed") }
    }

    /// Frees link `i`; every end of a connection comes here. What rides on it lets go first (the hole punch it
    /// carries or is, the connections it carries, its stream on its carrier), then the exchanges on it end: an
    /// initiator's handshakes (an outstanding challenge no longer counts), a joiner's copy of the session (wiped), a
    /// Kademlia request (its peer failed). Then the socket closes and the slot is free.
    func release(_ i: Int, _ reason: String) {
        if i == holePunch.link || i == holePunch.direct { holePunchLinkGone(i, reason) }
        detach(i)
        links[i].joiner?.wipe()
        if let request = links[i].kad, !request.done { dht?.lookup.failed(request.entry) }
        for s in 0..<4 where links[i].streams[s].handshake != nil { closeHandshake(i, s) }
        links[i].connection?.close()
        Net.close(links[i].fd)
        links[i] = Link()
        slots[i] = Admission.Slot()
    }

    /// Noise and yamux are up on a request's connection: open the Kademlia stream.
    func kadEstablished(_ i: Int) {
        guard let settings = dhtSettings else { return dropQuietly(i) }
        var id = settings.protocolID
        let dialer = id.withUTF8 { MultistreamDialer(bytes: UnsafeRawBufferPointer($0)) }
        openStream(i, dialer: dialer, purpose: .kad)
        // Three stream buffers of this link are the response buffer; identify, if asked, has the fourth.
        if let s = links[i].streams.indices.first(where: { links[i].streams[$0].id != 0 }) {
            links[i].streams[s].buffer = region(i, 2 * SecureConnection<SystemRandom>.bufferSize, 3 * AgentLimits.streamBufferSize)
        }
        askIdentify(i)
    }

    /// The stream agreed on the protocol: send the request.
    func kadSend(_ i: Int, _ s: Int) {
        guard let request = links[i].kad, let state = dht else { return dropQuietly(i) }
        var out = FixedBytes<1300>()
        let n = state.recordKey.withUnsafeBytes { k in
            out.withUnsafeMutableBytes { raw in
                state.record.withUnsafeBytes { record in
                    KadMessage.request(
                        request.kind, key: k,
                        value: request.kind == .putValue ? UnsafeRawBufferPointer(rebasing: record[0..<state.recordLength]) : nil, into: raw)
                }
            }
        }
        guard let n else { return dropQuietly(i) }
        let id = links[i].streams[s].id
        out.withUnsafeBytes { write(i, id, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// Response bytes arrived: take each complete field, feed the lookup, open records.
    func kadInput(_ i: Int, _ s: Int) {
        for _ in 0..<256 {
            guard !links[i].isFree, var request = links[i].kad else { return }
            let step: KadResponseReader.Step
            switch Self.kadNext(&request.reader, links[i].streams[s].received) {
            case .failure(let e):
                log("DHT: dropping a peer's answer: " + e.text)
                return dropQuietly(i)
            case .success(let st): step = st
            }
            links[i].kad = request
            switch step {
            case .needMore:
                return
            case .item(let item, let used):
                kadItem(item, request)
                guard !links[i].isFree else { return }
                consume(i, s, used)
            case .complete(let used):
                consume(i, s, used)
                kadAnswered(i, request)
                return
            }
            if links[i].kad?.reader.isComplete == true {
                kadAnswered(i, links[i].kad!)
                return
            }
        }
    }

    static func kadNext(_ reader: inout KadResponseReader, _ input: UnsafeRawBufferPointer) -> Result<KadResponseReader.Step, KadError> {
        do { return .success(try reader.next(input)) } catch { return .failure(error) }
    }

    private func kadItem(_ item: KadItem, _ request: KadRequest) {
        guard var state = dht else { return }
        switch item {
        case .peer(let p):
            if request.kind != .putValue { state.lookup.add(p, excluding: peerID) }
        case .record(let value) where request.kind == .getValue:
            switch open(value, state) {
            case .failure(let e):
                log("DHT: ignoring a record: " + e.text)
            case .success(let (ad, sequence)):
                let first = state.schedule.opened == nil
                guard state.schedule.recordOpened(sequence: sequence, now: now) else { break }
                // Private addresses of another network lead nowhere (or into ours): dial only what can work.
                var dialable = 0
                for a in ad.addresses where AddressScope.isDialable(a.host) {
                    var address = a
                    address.peer = ad.peer
                    discovery?.fromDHT.push(Candidate(address: address, source: .dht))
                    dialable += 1
                }
                log("DHT: " + (first ? "found" : "a newer record: the device published again;") + " the advertisement of '" + ad.device.name.string + "' ("
                    + String(ad.addresses.count) + " address(es), " + String(ad.addresses.count - dialable) + " private to another network)")
                if dialable == 0 {
                    log("DHT: the device lists only addresses of its own network: it is not reachable from outside (its log says why)")
                }
                state.unreachable = dialable == 0
            }
        default:
            break
        }
        dht = state
    }

    func open(_ value: UnsafeRawBufferPointer, _ state: DHTState) -> Result<(advertisement: Advertisement, sequence: UInt64), RendezvousError> {
        let kind = dhtSettings?.records ?? .ipns
        do {
            return .success(try Rendezvous.open(
                kind, value, key: state.recordKey, advertKey: state.advertKey, ipnsPublicKey: state.ipnsPublicKey, now: UInt64(max(0, sd_unix_time()))))
        } catch { return .failure(error) }
    }

    private func kadAnswered(_ i: Int, _ request: KadRequest) {
        if var state = dht {
            state.lookup.answered(request.entry)
            state.answers += 1
            if request.kind == .putValue { state.stored += 1 }
            dht = state
        }
        links[i].kad?.done = true
        // Identify asked on the same connection answers next (dhtTick's deadline bounds the wait): a peer answers
        // the request first as often as not, and each answer counts toward the address a hole punch names.
        if identifyPending(i) { return }
        dropQuietly(i)
    }

    /// Identify, asked right after the Kademlia stream opened on a fresh connection, has the second stream slot until
    /// it has answered.
    func identifyPending(_ i: Int) -> Bool { links[i].streams[1].id != 0 }

    /// A PUT_VALUE refused (py-libp2p resets the stream) or a peer that refuses the protocol.
    func kadRefused(_ i: Int) {
        if dht?.schedule.phase == .putting { dht?.refused += 1 }
        dropQuietly(i)
    }
}
