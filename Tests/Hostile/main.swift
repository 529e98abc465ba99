// sd-pair-hostile: a hostile peer against a running `sd-pair serve`, for tests and for trying a board by hand.
//
//   sd-pair-hostile <multiaddr of the agent> [--control <state dir>/control] [attack…]
//
//   sd-pair-hostile impostor [port]        a fake device that answers the pairing protocol and then goes silent
//
// Attacks (all by default but hold and vanish): garbage, truncate, oversized, drip, parallel, wrong-code; hold (4
// established connections kept alive by yamux pings, from 127.0.10.11-14); vanish (a joiner with the code that
// resets its connection before the confirmation, as if an on-path attacker dropped it). Each prints one line saying
// what it did and what the agent did; the exit status is 1 if the agent misbehaved (kept a garbage connection
// open past its handshake timeout, accepted a wrong code, or stopped answering), else 0. Every loop is bounded in
// count and time. Only connects to the address given; stops nothing but its own connections.
import Crypto
import Foundation
import Pairing
import Transport
import TestSupport
import Wire

#if canImport(Glibc)
import Glibc
#endif

struct Failure: Error { var text: String }

/// A blocking TCP client with a receive timeout.
final class Client {
    let fd: Int32
    /// `source`: a loopback address to connect from (127.0.0.0/8 is all local), so that one tool looks like many hosts.
    init?(port: UInt16, timeoutSeconds: Int, source: String? = nil) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if bound != 0 {
                close(fd)
                return nil
            }
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if ok != 0 {
            close(fd)
            return nil
        }
    }
    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
    /// True once the agent closed the connection (EOF or reset) within the receive timeout; what it sends is skipped.
    func closedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 512)
        for _ in 0..<10_000 {
            let r = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if r == 0 { return true }
            if r < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
        return false
    }
    deinit { close(fd) }
}

/// One line, straight to fd 1 (unbuffered, so a test reading the pipe sees it at once).
func say(_ line: String) {
    let text = Array(("hostile: " + line + "\n").utf8)
    _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

struct Attacks {
    let address: String
    let port: UInt16
    let control: String?
    /// The agent's handshake timeout plus slack: how long a hostile connection may stay open.
    let patience = 15

    /// Random bytes and wrong protocols: each connection must be closed by the agent.
    func garbage(_ count: Int) throws {
        var rng = SystemRandomNumberGenerator()
        var closed = 0
        for i in 0..<count {
            guard let c = Client(port: port, timeoutSeconds: patience) else { throw Failure(text: "garbage: cannot connect") }
            let bytes: [UInt8] = i % 3 == 0 ? Array("GET / HTTP/1.1\r\nHost: nas\r\n\r\n".utf8)
                : (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            c.send(bytes)
            if c.closedByPeer() { closed += 1 }
        }
        say("garbage: \(count) connections of junk, \(closed) closed by the agent")
        if closed != count { throw Failure(text: "garbage: \(count - closed) connection(s) left open") }
    }

    /// A valid opening cut at every byte offset; the connection then goes quiet and is closed by us.
    func truncate() throws {
        let flight = libp2pFirstFlight()
        for cut in 0..<flight.count {
            guard let c = Client(port: port, timeoutSeconds: patience) else { throw Failure(text: "truncate: cannot connect at cut \(cut)") }
            c.send(Array(flight.prefix(cut)))
        }
        say("truncate: a valid opening cut at each of its \(flight.count) byte offsets")
    }

    /// Length prefixes far beyond any bound: refused at once, before the bytes they announce.
    func oversized() throws {
        let flight = libp2pFirstFlight()
        let header = Array(flight.prefix(20))
        let negotiation = Array(flight.dropLast(34))
        let cases: [[UInt8]] = [header + [0x80, 0x80, 0x80, 0x80, 0x10], negotiation + [0xFF, 0xFF, 1, 2, 3], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]]
        for bytes in cases {
            guard let c = Client(port: port, timeoutSeconds: 3) else { throw Failure(text: "oversized: cannot connect") }
            c.send(bytes)
            guard c.closedByPeer() else { throw Failure(text: "oversized: a huge length prefix was not refused within 3 s") }
        }
        say("oversized: \(cases.count) huge length prefixes, each refused at once")
    }

    /// One byte of a valid opening every 200 ms: the handshake timeout must end it.
    func drip(seconds: Int) throws {
        guard let c = Client(port: port, timeoutSeconds: 1) else { throw Failure(text: "drip: cannot connect") }
        let flight = libp2pFirstFlight()
        let start = Date()
        var sent = 0
        while Date().timeIntervalSince(start) < Double(seconds) && sent < flight.count {
            c.send([flight[sent]])
            sent += 1
            usleep(200_000)
            if c.closedByPeer() {
                say("drip: dropped by the agent after \(sent) bytes, \(Int(Date().timeIntervalSince(start))) s")
                return
            }
        }
        throw Failure(text: "drip: still connected after \(seconds) s")
    }

    /// Many connections at once, held silent; the agent keeps a fixed table and must close or replace all of them.
    func parallel(_ count: Int, holdSeconds: Int) throws {
        let clients = (0..<count).compactMap { _ in Client(port: port, timeoutSeconds: patience) }
        guard clients.count == count else { throw Failure(text: "parallel: only \(clients.count) of \(count) connected") }
        sleep(UInt32(holdSeconds))
        var closed = 0
        for c in clients where c.closedByPeer() { closed += 1 }
        say("parallel: \(count) silent connections held \(holdSeconds) s, \(closed) closed by the agent")
        if closed != count { throw Failure(text: "parallel: \(count - closed) connection(s) outlived the handshake timeout") }
    }

    /// `count` peers from distinct source addresses (127.0.10.11, …) that finish Noise and yamux — free, no code or
    /// session id needed — and then only send a yamux ping every `interval` s, for at most `seconds` s: the hold that
    /// once locked every joiner out. Prints when the agent closed each; the agent must close all of them in time
    /// (replaced by a joiner, or idle: pings are not activity).
    func hold(_ count: Int, interval: Int, seconds: Int) throws {
        var peers: [HeldPeer] = []
        for k in 0..<count {
            guard let peer = try HeldPeer(port: port, source: "127.0.10.\(11 + k)") else { throw Failure(text: "hold: peer \(k) could not finish the handshake") }
            peers.append(peer)
        }
        say("hold: \(count) established connections from 127.0.10.11-\(10 + count), a yamux ping every \(interval) s")
        let start = Date()
        var lastPing = Date()
        while Date().timeIntervalSince(start) < Double(seconds) && peers.contains(where: { $0.open }) {
            usleep(200_000)
            let ping = Date().timeIntervalSince(lastPing) >= Double(interval)
            if ping { lastPing = Date() }
            for (k, peer) in peers.enumerated() where peer.open {
                if ping { peer.ping() }
                if !peer.stillOpen() { say("hold: connection \(k + 1) closed by the agent after \(Int(Date().timeIntervalSince(start))) s") }
            }
        }
        let open = peers.filter { $0.open }.count
        say("hold: \(count - open) of \(count) held connections closed by the agent within \(Int(Date().timeIntervalSince(start))) s")
        if open > 0 { throw Failure(text: "hold: \(open) connection(s) held past \(seconds) s") }
    }

    /// Joiners that know a window's session id (it is public: mDNS and the DHT show it) but not its code: each sends
    /// a pairing request for that session with the proof of another code. Windows come from the daemon's control
    /// socket; each must burn after its attempt limit, and no wrong joiner may ever pair.
    func wrongCode(_ count: Int) throws {
        guard let control else { throw Failure(text: "wrong-code needs --control <state dir>/control") }
        var attempts = 0
        var windows = 0
        let deadline = Date().addingTimeInterval(600)
        while attempts < count && Date() < deadline {
            let window = try openWindow(control)
            windows += 1
            guard let words = window.lines(wait: false).first(where: { $0.hasPrefix("code ") })?.dropFirst(5),
                var code = try? PairingCode.parse(String(words))
            else { throw Failure(text: "wrong-code: no code from the control socket") }
            let session = CodeSecrets(code: code).sessionID  // all an eavesdropper learns; the code itself stays unused
            code.wipe()
            var closed: String? = nil
            while closed == nil && attempts < count {
                let refusal = try wrongProof(session: session)
                attempts += 1
                guard let refusal else { throw Failure(text: "wrong-code: attempt \(attempts) was ACCEPTED") }
                _ = refusal
                closed = window.closedLine(patience: attempts % 5 == 0)
            }
            guard let closed, closed.contains("too many failed attempts") else {
                throw Failure(text: "wrong-code: window \(windows) did not burn: " + (closed ?? "still open"))
            }
        }
        say("wrong-code: \(attempts) joiners with the session id but not the code, in \(windows) windows; every window burned after 5, none paired")
        if attempts < count { throw Failure(text: "wrong-code: only \(attempts) attempts before the time limit") }
    }

    /// One attempt over a real libp2p connection (Noise XX, yamux, multistream to the pairing protocol). Returns the
    /// agent's refusal, or nil if it accepted the request (which would be a bug).
    func wrongProof(session: SessionID) throws -> String? {
        var rng = SystemRandom()
        let keys = Ed25519.KeyPair.generate(using: &rng)
        return try exchange(keys: keys, start: { connection, stream in
            try sendRequest(session: session, on: &connection, stream: stream, keys: keys)
        }, received: { message, _, _ in
            guard case .complete(let complete) = message else { return .done("unexpected message") }
            return .done(complete.rejection.map { $0.description })
        })
    }

    enum Next { case more, done(String?), vanish }

    /// Runs the pairing protocol as a joiner with `keys` over a real libp2p connection: `start` sends the request on
    /// the agreed stream, `received` answers each message from the agent. `.vanish` resets the connection at once.
    func exchange(
        keys: Ed25519.KeyPair, start: (inout SecureConnection<SystemRandom>, UInt32) throws -> Void,
        received: (PairingMessage, inout SecureConnection<SystemRandom>, UInt32) throws -> Next
    ) throws -> String? {
        guard let c = Client(port: port, timeoutSeconds: 5) else { throw Failure(text: "cannot connect") }
        var rng = SystemRandom()
        let size = SecureConnection<SystemRandom>.bufferSize
        let rx = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        let tx = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer {
            rx.deallocate()
            tx.deallocate()
        }
        var connection = SecureConnection(role: .dialer, identity: keys, random: &rng, rx: rx, tx: tx)
        try connection.start()
        var dialer = MultistreamDialer(proposal: "/sd-pair/pairing/1.0.0")
        var stream: UInt32? = nil
        var agreed = false
        var input: [UInt8] = []
        let began = Date()
        while Date().timeIntervalSince(began) < 5 {
            while !connection.pendingOutput.isEmpty {
                let n = Glibc.send(c.fd, connection.pendingOutput.baseAddress, connection.pendingOutput.count, Int32(MSG_NOSIGNAL))
                guard n > 0 else { return "connection closed" }
                connection.sent(n)
            }
            let space = connection.receiveSpace()
            let r = recv(c.fd, space.baseAddress, space.count, 0)
            guard r > 0 else { return "connection closed by the agent" }
            connection.received(r)
            while let event = try connection.poll() {
                switch event {
                case .established:
                    let id = try connection.openStream()
                    stream = id
                    var opening = [UInt8](repeating: 0, count: 128)
                    let n = opening.withUnsafeMutableBytes { raw -> Int in
                        var w = ByteWriter(raw)
                        try? dialer.start(into: &w)
                        return w.count
                    }
                    try opening.prefix(n).withUnsafeBytes { try connection.write(id, $0) }
                case .streamData(let id, let bytes) where id == stream:
                    input += bytes
                    if !agreed {
                        let (outcome, used) = try input.withUnsafeBytes { try dialer.receive($0) }
                        input.removeFirst(used)
                        guard outcome == .agreed else { continue }
                        agreed = true
                        try start(&connection, id)
                    }
                    while case .frame(let body, let total)? = try? input.withUnsafeBytes({ try MessageFrame.next(in: $0) }) {
                        guard let message = try? input.withUnsafeBytes({ try MessageCodec.decode(UnsafeRawBufferPointer(rebasing: $0[body])) }) else {
                            return "undecodable message from the agent"
                        }
                        input.removeFirst(total)
                        switch try received(message, &connection, id) {
                        case .more: continue
                        case .done(let result): return result
                        case .vanish:
                            while !connection.pendingOutput.isEmpty {
                                let n = Glibc.send(c.fd, connection.pendingOutput.baseAddress, connection.pendingOutput.count, Int32(MSG_NOSIGNAL))
                                guard n > 0 else { break }
                                connection.sent(n)
                            }
                            var reset = linger(l_onoff: 1, l_linger: 0)  // close() then sends RST, not FIN
                            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
                            return nil
                        }
                    }
                case .streamReset, .streamFinished:
                    return "stream closed by the agent"
                default:
                    break
                }
            }
        }
        throw Failure(text: "no answer within 5 s")
    }

    /// A joiner that holds the code, proves it, answers the challenge, and vanishes (connection reset) before it can
    /// read the agent's confirmation — what an on-path attacker who drops `Complete` causes. The agent must say the
    /// pairing is unconfirmed (it recorded the device; the device recorded nothing).
    func vanish() throws {
        guard let control else { throw Failure(text: "vanish needs --control <state dir>/control") }
        let window = try openWindow(control)
        guard let words = window.lines(wait: false).first(where: { $0.hasPrefix("code ") })?.dropFirst(5),
            var code = try? PairingCode.parse(String(words))
        else { throw Failure(text: "vanish: no code from the control socket") }
        var rng = SystemRandom()
        let keys = Ed25519.KeyPair.generate(using: &rng)
        let device = try DeviceInfo.make(deviceID: DeviceID(bytes: rng.bytes()), name: "Vanishing Joiner", type: .laptop, osVersion: "Linux", appVersion: "0")
        let now = Instant(milliseconds: 1)
        var joiner = JoinerSession(code: code, identity: keys, localDevice: device, policy: try WindowPolicy(expirySeconds: 300, maxFailedAttempts: 5), now: now)
        code.wipe()
        defer { joiner.wipe() }
        _ = joiner.connecting(now: now)
        let result = try exchange(keys: keys, start: { connection, stream in
            guard let noise = connection.session else { throw Failure(text: "vanish: no Noise session") }
            let binding = ChannelBinding(handshakeHash: noise.handshakeHash, exporter: noise.exporter, remoteIdentity: noise.remoteIdentity)
            guard let request = joiner.connected(binding: binding, now: now).reply else { throw Failure(text: "vanish: no request") }
            try send(request, on: &connection, stream: stream)
        }, received: { message, connection, stream in
            guard let reply = joiner.receive(message, now: now).reply else { return .done("the agent did not prove the code") }
            try send(reply, on: &connection, stream: stream)
            return .vanish
        })
        if let result { throw Failure(text: "vanish: " + result) }
        say("vanish: answered the challenge and reset the connection before the confirmation")
        _ = window.closedLine(patience: true)
    }

    func send(_ message: PairingMessage, on connection: inout SecureConnection<SystemRandom>, stream: UInt32) throws {
        var framed = [UInt8](repeating: 0, count: 1100)
        let n = framed.withUnsafeMutableBytes { MessageFrame.encoded(message, into: $0)?.count ?? 0 }
        try framed.prefix(n).withUnsafeBytes { try connection.write(stream, $0) }
    }

    /// A request for `session` carrying the proof of a random other code, bound to this connection as a real one is.
    func sendRequest(session: SessionID, on connection: inout SecureConnection<SystemRandom>, stream: UInt32, keys: Ed25519.KeyPair) throws {
        guard let noise = connection.session else { throw Failure(text: "wrong-code: no Noise session") }
        var rng = SystemRandom()
        var other = PairingCode.generate(using: &rng)
        defer { other.wipe() }
        let device = try DeviceInfo.make(deviceID: DeviceID(bytes: rng.bytes()), name: "Hostile Joiner", type: .laptop, osVersion: "Linux", appVersion: "0")
        let now = Instant(milliseconds: 1)
        var joiner = JoinerSession(code: other, identity: keys, localDevice: device, policy: try WindowPolicy(expirySeconds: 300, maxFailedAttempts: 5), now: now)
        _ = joiner.connecting(now: now)
        let binding = ChannelBinding(handshakeHash: noise.handshakeHash, exporter: noise.exporter, remoteIdentity: noise.remoteIdentity)
        guard case .request(var request)? = joiner.connected(binding: binding, now: now).reply else { throw Failure(text: "wrong-code: no request") }
        joiner.wipe()
        request.sessionID = session
        try send(.request(request), on: &connection, stream: stream)
    }

    /// A window opened through the control socket; the connection stays open to hear how it closes.
    final class ControlWindow {
        let fd: Int32
        var buffer: [UInt8] = []
        init(fd: Int32) { self.fd = fd }
        deinit { close(fd) }
        func lines(wait: Bool) -> [String] {
            var chunk = [UInt8](repeating: 0, count: 512)
            let r = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, wait ? 0 : Int32(MSG_DONTWAIT)) }
            if r > 0 { buffer += chunk[0..<r] }
            let text = String(decoding: buffer, as: UTF8.self)
            return text.split(separator: "\n").map(String.init)
        }
        /// The window's closing line if it has come; with `patience`, waits up to 1 s for it.
        func closedLine(patience: Bool) -> String? {
            for _ in 0..<(patience ? 200 : 1) {
                if let line = lines(wait: false).first(where: { $0.hasPrefix("closed ") || $0.hasPrefix("paired ") }) { return line }
                usleep(5_000)
            }
            return nil
        }
    }

    func openWindow(_ path: String) throws -> ControlWindow {
        for _ in 0..<200 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { for (i, b) in bytes.enumerated() where i < $0.count - 1 { $0[i] = b } }
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            guard ok == 0 else {
                close(fd)
                throw Failure(text: "wrong-code: cannot reach the control socket " + path)
            }
            _ = Array("invite\n".utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            let window = ControlWindow(fd: fd)
            var got: [String] = []
            for _ in 0..<10 where !got.contains(where: { $0.hasPrefix("expires ") || $0.hasPrefix("error ") }) { got = window.lines(wait: true) }
            if got.contains(where: { $0.hasPrefix("expires ") }) { return window }
            // Another window is open (a real pairing, say): wait for it, bounded.
            usleep(100_000)
        }
        throw Failure(text: "wrong-code: the daemon never opened a window")
    }
}

/// A libp2p peer over a blocking socket, driven step by step: Noise and yamux, then whatever the attack does.
final class HeldPeer {
    let client: Client
    var connection: SecureConnection<SystemRandom>
    let rx: UnsafeMutableRawBufferPointer
    let tx: UnsafeMutableRawBufferPointer
    private(set) var open = true
    var pings: UInt32 = 0

    /// Connects from `source` and runs the handshake (5 s at most); nil if the agent closed it first.
    init?(port: UInt16, source: String) throws {
        guard let c = Client(port: port, timeoutSeconds: 5, source: source) else { return nil }
        client = c
        var rng = SystemRandom()
        let size = SecureConnection<SystemRandom>.bufferSize
        rx = .allocate(byteCount: size, alignment: 16)
        tx = .allocate(byteCount: size, alignment: 16)
        connection = SecureConnection(role: .dialer, identity: Ed25519.KeyPair.generate(using: &rng), random: &rng, rx: rx, tx: tx)
        try connection.start()
        let start = Date()
        while Date().timeIntervalSince(start) < 5 {
            flush()
            let space = connection.receiveSpace()
            let r = recv(client.fd, space.baseAddress, space.count, 0)
            guard r > 0 else { return nil }
            connection.received(r)
            while let event = try connection.poll() {
                if case .established = event {
                    flush()
                    return
                }
            }
        }
        return nil
    }

    deinit {
        rx.deallocate()
        tx.deallocate()
    }

    func flush() {
        while !connection.pendingOutput.isEmpty {
            let n = Glibc.send(client.fd, connection.pendingOutput.baseAddress, connection.pendingOutput.count, Int32(MSG_NOSIGNAL))
            guard n > 0 else { return }
            connection.sent(n)
        }
    }

    /// A keep-alive: one yamux ping (not stream data).
    func ping() {
        pings += 1
        try? connection.ping(pings)
        flush()
    }

    /// Reads what is there without waiting (acks of our pings); false once the agent has closed the connection.
    func stillOpen() -> Bool {
        guard open else { return false }
        for _ in 0..<16 {
            let space = connection.receiveSpace()
            let r = recv(client.fd, space.baseAddress, space.count, Int32(MSG_DONTWAIT))
            if r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                open = false
                return false
            }
            if r < 0 { return true }
            connection.received(r)
            while (try? connection.poll()).flatMap({ $0 }) != nil {}
        }
        return true
    }
}

/// `sd-pair-hostile impostor <port>`: a fake device for the joiner. It listens on 0.0.0.0:<port> (0: any), prints
/// `IMPOSTOR <port> <peer id>`, and to every dialler does what a spoofed mDNS answer with the right session id can:
/// Noise, yamux, agrees to the pairing protocol, reads the request — and never answers. Runs for at most 120 s.
func impostor(port: UInt16) -> Never {
    var rng = SystemRandom()
    let keys = Ed25519.KeyPair.generate(using: &rng)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else {
        say("impostor: cannot listen on port \(port)")
        exit(1)
    }
    let line = Array(("IMPOSTOR \(UInt16(bigEndian: addr.sin_port)) " + PeerID(publicKey: keys.publicKey).text + "\n").utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    let size = SecureConnection<SystemRandom>.bufferSize
    let rx = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    let tx = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    var held: [Int32] = []  // silenced connections stay open: the joiner must give up on us, not we on it
    let start = Date()
    while Date().timeIntervalSince(start) < 120 {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 500) > 0 else { continue }
        let c = accept(fd, nil, nil)
        guard c >= 0 else { continue }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var connection = SecureConnection(role: .listener, identity: keys, random: &rng, rx: rx, tx: tx)
        var listener = MultistreamListener(supported: InlineArray<4, StaticString>(repeating: "/sd-pair/pairing/1.0.0"), count: 1)
        var input: [UInt8] = []
        var agreed = false
        var silenced = false
        let began = Date()
        try? connection.start()
        while !silenced && Date().timeIntervalSince(began) < 5 {
            while !connection.pendingOutput.isEmpty {
                let n = Glibc.send(c, connection.pendingOutput.baseAddress, connection.pendingOutput.count, Int32(MSG_NOSIGNAL))
                guard n > 0 else { break }
                connection.sent(n)
            }
            let space = connection.receiveSpace()
            let r = recv(c, space.baseAddress, space.count, 0)
            guard r > 0 else { break }
            connection.received(r)
            while let event = (try? connection.poll()).flatMap({ $0 }) {
                switch event {
                case .streamOpened(let id):
                    var answers = [UInt8](repeating: 0, count: 128)
                    let n = answers.withUnsafeMutableBytes { raw -> Int in
                        var w = ByteWriter(raw)
                        try? listener.start(into: &w)
                        return w.count
                    }
                    try? answers.prefix(n).withUnsafeBytes { try connection.write(id, $0) }
                case .streamData(let id, let bytes):
                    input += bytes
                    if agreed {
                        say("impostor: got a pairing request (\(input.count) bytes); saying nothing")
                        silenced = true
                        continue
                    }
                    var answers = [UInt8](repeating: 0, count: 512)
                    let (outcome, n) = answers.withUnsafeMutableBytes { raw -> (MultistreamListener.Outcome?, Int) in
                        var w = ByteWriter(raw)
                        let result = try? input.withUnsafeBytes { try listener.receive($0, answers: &w) }
                        if let used = result?.1 { input.removeFirst(used) }
                        return (result?.0, w.count)
                    }
                    try? answers.prefix(n).withUnsafeBytes { try connection.write(id, $0) }
                    if case .agreed? = outcome { agreed = true }
                    if agreed, !input.isEmpty {
                        say("impostor: got a pairing request (\(input.count) bytes); saying nothing")
                        silenced = true
                    }
                default:
                    break
                }
            }
        }
        while !connection.pendingOutput.isEmpty {
            let n = Glibc.send(c, connection.pendingOutput.baseAddress, connection.pendingOutput.count, Int32(MSG_NOSIGNAL))
            guard n > 0 else { break }
            connection.sent(n)
        }
        held.append(c)
    }
    exit(0)
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "impostor" {
    try! Sodium.initialize()
    impostor(port: arguments.count > 1 ? UInt16(arguments[1]) ?? 0 : 0)
}
guard let addressText = arguments.first, let multiaddr = try? Multiaddr(text: addressText) else {
    say("usage: sd-pair-hostile <multiaddr> [--control <path>] [garbage|truncate|oversized|drip|parallel|wrong-code|hold|vanish]…  or  sd-pair-hostile impostor [port]")
    exit(2)
}
var control: String? = nil
var chosen: [String] = []
var i = 1
while i < arguments.count {
    switch arguments[i] {
    case "--control": control = arguments[i + 1]; i += 2
    default: chosen.append(arguments[i]); i += 1
    }
}
if chosen.isEmpty { chosen = ["garbage", "truncate", "oversized", "drip", "parallel", "wrong-code"] }
try! Sodium.initialize()
let attacks = Attacks(address: addressText, port: multiaddr.port, control: control)
var failed = false
for attack in chosen {
    do {
        switch attack {
        case "garbage": try attacks.garbage(30)
        case "truncate": try attacks.truncate()
        case "oversized": try attacks.oversized()
        case "drip": try attacks.drip(seconds: 20)
        case "parallel": try attacks.parallel(100, holdSeconds: 12)
        case "wrong-code": try attacks.wrongCode(1000)
        case "hold": try attacks.hold(4, interval: 20, seconds: 75)
        case "vanish": try attacks.vanish()
        default:
            say("unknown attack '" + attack + "'")
            exit(2)
        }
    } catch let f as Failure {
        say("FAILED " + f.text)
        failed = true
    } catch {
        say("FAILED \(attack): \(error)")
        failed = true
    }
}
exit(failed ? 1 : 0)
