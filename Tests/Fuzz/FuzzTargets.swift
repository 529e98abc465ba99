import Agent
import Crypto
import Discovery
import Pairing
import Registry
import Transport
import Wire

/// Every decoder that reads bytes from the network, the disk or a person, behind one entry point each. A target
/// must never trap: libFuzzer (with AddressSanitizer) reports a crash, a leak or an out-of-bounds access as a bug.
/// Errors are the expected outcome for most inputs and are ignored; where a decoder accepts an input, the target
/// also checks what must then hold (re-encoding gives the same bytes, a parsed code round-trips).
enum FuzzTarget: CaseIterable {
    case multistream, noise, yamux, protobuf, kad, multiaddr, peerid, pairing, bip39, registry, config, txt, advert,
        control, connection, text, ipns, portmap, identify, relay, holepunch

    var name: String {
        switch self {
        case .multistream: "multistream"
        case .noise: "noise"
        case .yamux: "yamux"
        case .protobuf: "protobuf"
        case .kad: "kad"
        case .multiaddr: "multiaddr"
        case .peerid: "peerid"
        case .pairing: "pairing"
        case .bip39: "bip39"
        case .registry: "registry"
        case .config: "config"
        case .txt: "txt"
        case .advert: "advert"
        case .control: "control"
        case .connection: "connection"
        case .text: "text"
        case .ipns: "ipns"
        case .portmap: "portmap"
        case .identify: "identify"
        case .relay: "relay"
        case .holepunch: "holepunch"
        }
    }

    static func named(_ text: String) -> FuzzTarget? { allCases.first { $0.name == text } }

    func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .multistream: Self.multistream(data)
        case .noise: Self.noise(data)
        case .yamux: Self.yamux(data)
        case .protobuf: Self.protobuf(data)
        case .kad: Self.kad(data)
        case .multiaddr: Self.multiaddr(data)
        case .peerid: Self.peerid(data)
        case .pairing: Self.pairing(data)
        case .bip39: Self.bip39(data)
        case .registry: Self.registry(data)
        case .config: Self.config(data)
        case .txt: Self.txt(data)
        case .advert: Self.advert(data)
        case .control: Self.control(data)
        case .connection: Self.connection(data)
        case .text: Self.text(data)
        case .ipns: Self.ipns(data)
        case .portmap: Self.portmap(data)
        case .identify: Self.identify(data)
        case .relay: Self.relay(data)
        case .holepunch: Self.holepunch(data)
        }
    }

    /// Fails loudly: a property that must hold did not (libFuzzer records the input as a crash).
    static func check(_ condition: Bool, _ what: StaticString) {
        if !condition { fatalError("fuzz property violated: \(what)") }
    }

    /// The first byte picks a chunk size, so streaming decoders also see input split at every kind of boundary.
    static func chunks(_ data: UnsafeRawBufferPointer) -> (size: Int, rest: UnsafeRawBufferPointer) {
        guard let first = data.first else { return (1, data) }
        return (Int(first % 64) + 1, UnsafeRawBufferPointer(rebasing: data.dropFirst()))
    }

    // MARK: Transport

    /// multistream-select, both sides, fed in chunks (the listener with the agent's real protocol list).
    static func multistream(_ data: UnsafeRawBufferPointer) {
        _ = try? Multistream.next(in: data)
        let (size, input) = chunks(data)
        var listener = MultistreamListener(supported: ["/noise", "/yamux/1.0.0", "/sd-pair/pairing/1.0.0", "/ipfs/ping/1.0.0"], count: 4)
        var dialer = MultistreamDialer(proposal: "/noise")
        var out = [UInt8](repeating: 0, count: 4096)
        out.withUnsafeMutableBytes { raw in
            var writer = ByteWriter(raw)
            var listenerDone = false
            var dialerDone = false
            var offset = 0
            while offset < input.count {
                let end = min(input.count, offset + size)
                let piece = UnsafeRawBufferPointer(rebasing: input[offset..<end])
                writer = ByteWriter(raw)
                if !listenerDone {
                    do {
                        let (_, used) = try listener.receive(piece, answers: &writer)
                        check(used <= piece.count, "multistream listener consumed more than it was given")
                    } catch { listenerDone = true }
                }
                if !dialerDone {
                    do {
                        let (_, used) = try dialer.receive(piece)
                        check(used <= piece.count, "multistream dialer consumed more than it was given")
                    } catch { dialerDone = true }
                }
                offset = end
            }
        }
    }

    /// Noise framing and the libp2p handshake payload (identity key + signature).
    static func noise(_ data: UnsafeRawBufferPointer) {
        if let frame = NoiseFrame.complete(in: data) {
            check(frame.body.upperBound <= data.count && frame.total <= data.count, "noise frame outside its input")
        }
        _ = try? NoisePayload.verify(data, staticKey: X25519.PublicKey(bytes: FixedBytes<32>(repeating: 9)))
        if let key = try? PublicKeyProtobuf.decode(data) {
            var out = [UInt8](repeating: 0, count: PublicKeyProtobuf.encodedLength)
            let n = out.withUnsafeMutableBytes { PublicKeyProtobuf.encode(key, into: $0) }
            check(n == PublicKeyProtobuf.encodedLength, "a decoded identity key does not encode")
        }
    }

    /// yamux as both roles over arbitrary frames, in chunks; events must point inside the input.
    static func yamux(_ data: UnsafeRawBufferPointer) {
        let (size, input) = chunks(data)
        for role in [YamuxSession.Role.dialer, .listener] {
            var session = YamuxSession(role: role)
            var out = [UInt8](repeating: 0, count: 16384)
            out.withUnsafeMutableBytes { raw in
                var offset = 0
                var rounds = 0
                while offset < input.count && rounds < 100_000 {
                    rounds += 1
                    let end = min(input.count, offset + size)
                    var writer = ByteWriter(raw)
                    let piece = UnsafeRawBufferPointer(rebasing: input[offset..<end])
                    do {
                        let (event, used) = try session.next(in: piece, output: &writer)
                        check(used <= piece.count, "yamux consumed more than it was given")
                        if case .data(_, let range)? = event { check(range.upperBound <= piece.count, "yamux data outside its input") }
                        offset += used
                        if used == 0 && event == nil { offset = end }
                    } catch { return }
                }
            }
        }
    }

    // MARK: Protobuf and Kademlia

    static func protobuf(_ data: UnsafeRawBufferPointer) {
        var reader = ProtobufReader(data)
        var fields = 0
        while fields < 10_000, let field = try? reader.next() {
            fields += 1
            if case .bytes(let bytes) = field.value { check(bytes.count <= data.count, "protobuf field longer than its input") }
        }
    }

    /// A Kademlia response streamed through the agent's reader: after each field the used bytes are dropped, as the
    /// node does with its fixed stream buffer.
    static func kad(_ data: UnsafeRawBufferPointer) {
        let (size, input) = chunks(data)
        var reader = KadResponseReader()
        var buffer: [UInt8] = []
        var offset = 0
        var rounds = 0
        while rounds < 100_000 {
            rounds += 1
            if offset < input.count {
                let end = min(input.count, offset + size)
                buffer += input[offset..<end]
                offset = end
            }
            let step: KadResponseReader.Step
            do { step = try buffer.withUnsafeBytes { try reader.next($0) } } catch { return }
            switch step {
            case .needMore:
                if offset >= input.count { return }
            case .item(_, let used):
                check(used > 0 && used <= buffer.count, "kad item used bytes it did not have")
                buffer.removeFirst(used)
            case .complete(let used):
                check(used <= buffer.count, "kad end used bytes it did not have")
                return
            }
        }
    }

    static func multiaddr(_ data: UnsafeRawBufferPointer) {
        if let address = try? Multiaddr(binary: data) {
            var out = [UInt8](repeating: 0, count: 256)
            let n = out.withUnsafeMutableBytes { raw -> Int in
                var w = ByteWriter(raw)
                do { try address.encode(into: &w) } catch { return -1 }
                return w.count
            }
            check(n > 0, "a decoded multiaddr does not encode")
            check((try? Multiaddr(text: address.text)) != nil, "a decoded multiaddr's text does not parse")
        }
        _ = try? Multiaddr(text: String(decoding: data, as: UTF8.self))
    }

    static func peerid(_ data: UnsafeRawBufferPointer) {
        if let id = try? PeerID(bytes: data) {
            check((try? PeerID(text: id.text)) == id, "a peer id does not survive its text form")
        }
        _ = try? PeerID(text: String(decoding: data, as: UTF8.self))
        var out = [UInt8](repeating: 0, count: 64)
        _ = out.withUnsafeMutableBytes { Base58.decode(data, into: $0) }
    }

    // MARK: Pairing

    /// Pairing frames and messages; an accepted message re-encodes to the same body.
    static func pairing(_ data: UnsafeRawBufferPointer) {
        if case .frame(let body, let total)? = try? MessageFrame.next(in: data) {
            check(body.upperBound <= data.count && total <= data.count, "pairing frame outside its input")
        }
        guard let message = try? MessageCodec.decode(data) else { return }
        var out = [UInt8](repeating: 0, count: 1024)
        let n = out.withUnsafeMutableBytes { raw -> Int in
            var w = ByteWriter(raw)
            do { try MessageCodec.encode(message, into: &w) } catch { return -1 }
            return w.count
        }
        check(n == data.count && out[0..<n].elementsEqual(data), "an accepted pairing message does not re-encode to its bytes")
    }

    /// Typed words or digits: whatever a person types, a code that parses gives back text that parses to the same code.
    static func bip39(_ data: UnsafeRawBufferPointer) {
        guard var code = try? PairingCode.parse(bytes: data) else { return }
        defer { code.wipe() }
        guard var again = try? PairingCode.parse(code.words) else { return check(false, "a parsed code's words do not parse") }
        defer { again.wipe() }
        check(again.entropy == code.entropy && again.short?.digits == code.short?.digits, "a code's words parse to another code")
    }

    // MARK: Files and local input

    /// The device registry file; an accepted file re-encodes to the same bytes.
    static func registry(_ data: UnsafeRawBufferPointer) {
        guard let devices = try? RegistryCodec.decode(data) else { return }
        var out = [UInt8](repeating: 0, count: RegistryCodec.fileLength(count: devices.count))
        let n = out.withUnsafeMutableBytes { RegistryCodec.encode(devices, into: $0) }
        check(n == data.count && out.elementsEqual(data), "an accepted registry file does not re-encode to its bytes")
    }

    static func config(_ data: UnsafeRawBufferPointer) {
        switch ConfigText.parse(data) {
        case .success(let entries):
            for entry in entries { check(entry.line >= 1, "a config entry without its line") }
        case .failure(let problem):
            check(problem.line >= 1, "a config error that does not name its line")
        }
    }

    /// Text from the network (device and mDNS names) through the one rule for it: what is shown is clean, fits the
    /// limit, and is the input itself when the input was clean and short enough.
    static func text(_ data: UnsafeRawBufferPointer) {
        let clean = UntrustedText.isClean(data)
        let limit = data.first.map { Int($0 % 80) + 1 } ?? 64
        var shown = UntrustedText.printable(data, limit: limit)
        shown.withUTF8 { utf8 in
            check(UntrustedText.isClean(UnsafeRawBufferPointer(utf8)), "printable text holds a forbidden character")
            check(utf8.count <= limit, "printable text longer than its limit")
            if clean && data.count <= limit {
                check(utf8.count == data.count && (0..<data.count).allSatisfy { utf8[$0] == data[$0] }, "clean text was changed")
            }
        }
    }

    /// mDNS TXT entries: the first byte of each is its length (as on the wire), the rest its text.
    static func txt(_ data: UnsafeRawBufferPointer) {
        var parser = ServiceText.Parser()
        var offset = 0
        while offset < data.count {
            let length = Int(data[offset])
            let end = min(data.count, offset + 1 + length)
            do { try parser.add(UnsafeRawBufferPointer(rebasing: data[(offset + 1)..<end])) } catch { return }
            offset = end
        }
        _ = try? parser.finish()
    }

    /// The sealed DHT advertisement. Raw bytes almost never authenticate, so the input is also sealed as the
    /// plaintext under a fixed key first: that reaches the parser behind the AEAD, which a DHT node cannot reach
    /// without the code, but which must still hold if the code's owner is the attacker.
    static func advert(_ data: UnsafeRawBufferPointer) {
        let key = SymmetricKey(bytes: FixedBytes<32>(repeating: 7))
        let recordKey = "/sd-pair/00000000000000000000000000000000"
        var aad = Array(recordKey.utf8) + [UInt8](repeating: 0, count: 8)  // record key ‖ sequence 0
        _ = aad.withUnsafeBytes { try? Advertisement.open(data, key: key, aad: $0) }
        guard data.count <= Advertisement.maxSealedLength - 12 - ChaChaPoly.tagLength else { return }
        var sealed = [UInt8](repeating: 0, count: 12 + data.count + ChaChaPoly.tagLength)
        let ok = sealed.withUnsafeMutableBytes { raw -> Bool in
            aad.withUnsafeMutableBytes { a -> Bool in
                (try? ChaChaPoly.seal(
                    key: key, nonce: ChaChaPoly.Nonce(), associatedData: UnsafeRawBufferPointer(a), plaintext: data,
                    into: UnsafeMutableRawBufferPointer(rebasing: raw[12...]))) != nil
            }
        }
        check(ok, "sealing the fuzz input failed")
        _ = sealed.withUnsafeBytes { s in aad.withUnsafeBytes { try? Advertisement.open(s, key: key, aad: $0) } }
    }

    /// IPNS records as a DHT node serves them: the whole record (verified against the fixed key the seeds are
    /// signed with), the DAG-CBOR data alone (a record signed by the attacker's own key reaches it), and the
    /// RFC 3339 reader. An accepted timestamp must format back to itself when it has no fraction.
    static func ipns(_ data: UnsafeRawBufferPointer) {
        let keys = Ed25519.KeyPair(seed: FixedBytes<32>(repeating: 9))
        _ = try? IPNSRecord.verify(data, publicKey: keys.publicKey)
        _ = try? IPNSRecord.dataFields(data)
        if let seconds = RFC3339.parse(data), data.count == RFC3339.length {
            var out = FixedBytes<20>()
            RFC3339.format(seconds, into: &out)
            check(out.withUnsafeBytes { $0.sameBytes(as: data) }, "an RFC 3339 time did not format back to itself")
        }
    }

    /// A peer's identify answer, complete or cut anywhere: a shorter prefix of an answer that reads is never
    /// malformed, only incomplete.
    static func identify(_ data: UnsafeRawBufferPointer) {
        guard case .answer(_, _, let used)? = try? Identify.read(data) else { return }
        check(used <= data.count, "identify used more bytes than it had")
        for cut in [0, used / 2, used - 1] where cut < used {
            check((try? Identify.read(UnsafeRawBufferPointer(rebasing: data[0..<cut]))) == .needMore, "a cut identify answer did not ask for more")
        }
    }

    /// A relay's hop answer or stop request (both readings of the same bytes), complete or cut: a prefix of a message
    /// that reads is never malformed, only incomplete.
    static func relay(_ data: UnsafeRawBufferPointer) {
        for kind in [CircuitRelay.Kind.hop, .stop] {
            guard case .message(_, let used)? = try? CircuitRelay.read(kind, data) else { continue }
            check(used <= data.count, "a relay message used more bytes than it had")
            for cut in [0, used / 2, used - 1] where cut < used {
                check((try? CircuitRelay.read(kind, UnsafeRawBufferPointer(rebasing: data[0..<cut]))) == .needMore, "a cut relay message did not ask for more")
            }
        }
    }

    /// A DCUtR message, complete or cut; one that reads writes back to a message that reads the same (one address,
    /// the first we can dial).
    static func holepunch(_ data: UnsafeRawBufferPointer) {
        guard case .message(let m, let used)? = try? HolePunch.read(data) else { return }
        check(used <= data.count, "a hole punch message used more bytes than it had")
        for cut in [0, used / 2, used - 1] where cut < used {
            check((try? HolePunch.read(UnsafeRawBufferPointer(rebasing: data[0..<cut]))) == .needMore, "a cut hole punch message did not ask for more")
        }
        var out = [UInt8](repeating: 0, count: 128)
        out.withUnsafeMutableBytes { raw in
            let n = HolePunch.write(m.kind, m.address, into: raw)
            check(n != nil, "a hole punch message read but could not be written")
            guard let n, case .message(let again, _)? = try? HolePunch.read(UnsafeRawBufferPointer(rebasing: raw[0..<n])) else {
                return check(false, "a written hole punch message did not read")
            }
            check(again == m, "a hole punch message changed on its way back")
        }
    }

    /// What the router says: NAT-PMP datagrams (to a client in each phase; a mapping it accepts must name a port)
    /// and `upnpc`'s output, fed in chunks.
    static func portmap(_ data: UnsafeRawBufferPointer) {
        var client = NATPMPClient(internalPort: 4001, lifetimeSeconds: 120, now: 0)
        var out = FixedBytes<12>()
        for step in 0..<3 {
            _ = client.datagram(now: UInt64(step) * 1000, into: &out)
            client.receive(data, now: UInt64(step) * 1000)
            if client.phase == .mapped { check(client.externalPort != 0, "a NAT-PMP mapping without a port") }
        }
        client.release(now: 9000)
        client.receive(data, now: 9000)
        var upnp = UPnPOutput()
        let (size, input) = chunks(data)
        var offset = 0
        while offset < input.count {
            upnp.feed(UnsafeRawBufferPointer(rebasing: input[offset..<min(input.count, offset + size)]))
            offset += size
        }
        upnp.finish()
    }

    /// The control socket: request lines (daemon side) and reply lines (invite side).
    static func control(_ data: UnsafeRawBufferPointer) {
        if case .success(let request?) = ControlProtocol.request(data) {
            check(request == .invite || request == .status, "an unknown control request was accepted")
        }
        // A valid UTF-8 reply re-encodes to its own bytes (invalid bytes come back as U+FFFD, by design).
        if let reply = ControlProtocol.reply(data), String(validating: data, as: UTF8.self) != nil {
            check(ControlProtocol.encode(reply).utf8.elementsEqual(data + [0x0A]), "an accepted control reply does not re-encode")
        }
    }

    // MARK: A whole connection

    /// A listener's secure connection (multistream, Noise XX, then yamux) fed the input as a peer's bytes, in chunks:
    /// what a stranger who connects to the agent's port can do before proving anything.
    static func connection(_ data: UnsafeRawBufferPointer) {
        let (size, input) = chunks(data)
        var random = CountingRandom()
        var identity = Ed25519.KeyPair.generate(using: &random)
        defer { identity.wipe() }
        let rx = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureConnection<CountingRandom>.bufferSize, alignment: 16)
        let tx = UnsafeMutableRawBufferPointer.allocate(byteCount: SecureConnection<CountingRandom>.bufferSize, alignment: 16)
        defer {
            rx.deallocate()
            tx.deallocate()
        }
        var connection = SecureConnection(role: .listener, identity: identity, random: &random, rx: rx, tx: tx)
        guard (try? connection.start()) != nil else { return }
        var offset = 0
        var rounds = 0
        while offset < input.count && rounds < 100_000 {
            rounds += 1
            let space = connection.receiveSpace()
            let n = min(space.count, size, input.count - offset)
            if n == 0 { return }
            space.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[offset..<(offset + n)]))
            connection.received(n)
            offset += n
            connection.sent(connection.pendingOutput.count)  // the peer takes everything we say
            do {
                while let event = try connection.poll() {
                    if case .streamData(let id, let bytes) = event {
                        check(bytes.count <= SecureConnection<CountingRandom>.bufferSize, "stream data larger than the buffer")
                        _ = id
                    }
                    connection.sent(connection.pendingOutput.count)
                }
            } catch { return }
        }
    }
}

/// Deterministic "randomness" for the fuzzer: the same input must take the same path every time.
struct CountingRandom: RandomSource {
    var counter: UInt8 = 1
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count {
            buffer[i] = counter
            counter &+= 31
        }
    }
}
