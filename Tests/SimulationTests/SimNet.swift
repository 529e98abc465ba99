import CSodium
import EventLoop

#if canImport(Glibc)
import Glibc
#endif

/// TCP between whole agents in the simulator: what `Net.calls` reaches during a run of AgentSimulationTests, in place
/// of the kernel. Sockets are numbered descriptors (from `firstDescriptor`, far above any real one); a connection is
/// two sockets whose bytes travel as `SimWorld` deliveries, so they take the world's latency, jitter and loss (TCP's
/// way: late, never reordered within a stream; a segment lost for good resets the connection on both ends), and a
/// black-holed host answers no SYN at all. Hosts are the world's numbered hosts, each with an IPv4 address in
/// 10.0.0.0/16.
///
/// The agent's C calls cannot carry a context, so the run's network is a global (`current`) and the host making a
/// call is `caller`, which the driver sets before it steps that host's agent. One thread, one run at a time.
final class SimNet {
    enum Event {
        case syn(Int)
        case synAck(Int)
        case refused(Int)
        case data(Int, [UInt8])
        case fin(Int)
        case reset(Int)
        /// A timer for a host (the driver's, not the network's).
        case wake(Int)
    }

    struct Socket {
        var host: Int
        var open = true
        /// A listener's port and its accepted connections not yet taken.
        var listening: UInt16? = nil
        var backlog: [Int] = []
        /// The other end (-1: none yet, or a listener).
        var peer = -1
        var connecting = false
        var connected = false
        var inbox: [UInt8] = []
        var finReceived = false
        var error: Int32 = 0
        /// When the last delivery towards this socket arrives: the next one never overtakes it.
        var lastArrival: UInt64 = 0
        /// When the connection reached its listener, and when this end was closed (what a board's own timers
        /// measure: its clock, not what the peer sees later over a lossy path).
        var openedAt: UInt64 = 0
        var closedAt: UInt64? = nil
        /// Where a connect goes (host, port).
        var target = (host: -1, port: UInt16(0))
    }

    nonisolated(unsafe) static var current: SimNet? = nil
    static let firstDescriptor: Int32 = 1 << 24

    var world: SimWorld<Event>
    var sockets: [Socket] = []
    /// The host whose agent is making the calls.
    var caller = 0
    /// Hosts whose sockets something happened to since the driver last looked (their agents are due a step).
    var touched: Set<Int> = []
    /// Connections reset because a segment was lost for good (TCP gave up).
    private(set) var broken = 0
    private var listeners: [Int: Int] = [:]
    private var nextPort: [Int: UInt16] = [:]

    init(seed: UInt64) { world = SimWorld(seed: seed) }

    static func address(_ host: Int) -> String { "10.0." + String(host >> 8) + "." + String(host & 255) }
    static func host(_ address: String) -> Int? {
        let parts = address.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 4, parts[0] == 10, parts[1] == 0 else { return nil }
        return parts[2] << 8 | parts[3]
    }

    func socket(_ fd: Int32) -> Int? {
        let i = Int(fd - Self.firstDescriptor)
        return fd >= Self.firstDescriptor && i < sockets.count && sockets[i].open ? i : nil
    }
    func descriptor(_ i: Int) -> Int32 { Self.firstDescriptor + Int32(i) }

    // MARK: The calls (the same for an agent, through `Net.calls`, and for the test's own hostile peers)

    func listen(host: Int, port: UInt16) -> Int32 {
        var port = port
        if port == 0 {
            port = nextPort[host, default: 4001]
            nextPort[host] = port + 1
        }
        guard listeners[host << 16 | Int(port)] == nil else { return -EADDRINUSE }
        sockets.append(Socket(host: host, listening: port))
        listeners[host << 16 | Int(port)] = sockets.count - 1
        return descriptor(sockets.count - 1)
    }

    func connect(from host: Int, to target: Int, port: UInt16) -> Int32 {
        var s = Socket(host: host)
        s.connecting = true
        s.target = (target, port)
        sockets.append(s)
        let c = sockets.count - 1
        if target >= 0 { world.send(.syn(c), from: host, to: target) }
        return descriptor(c)
    }

    func accept(_ fd: Int32) -> (fd: Int32, from: Int)? {
        guard let l = socket(fd), !sockets[l].backlog.isEmpty else { return nil }
        let s = sockets[l].backlog.removeFirst()
        return (descriptor(s), sockets[sockets[s].peer].host)
    }

    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let i = socket(fd) else { return -Int(EBADF) }
        if !sockets[i].inbox.isEmpty {
            let n = min(buffer.count, sockets[i].inbox.count)
            sockets[i].inbox.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            sockets[i].inbox.removeFirst(n)
            return n
        }
        if sockets[i].error != 0 { return -Int(sockets[i].error) }
        return sockets[i].finReceived ? 0 : -Int(EAGAIN)
    }

    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard let i = socket(fd) else { return -Int(EBADF) }
        if sockets[i].error != 0 { return -Int(sockets[i].error) }
        guard sockets[i].connected, sockets[i].peer >= 0 else { return -Int(EAGAIN) }
        transmit(.data(sockets[i].peer, Array(bytes)), from: i)
        return bytes.count
    }

    func close(_ fd: Int32) {
        guard let i = socket(fd) else { return }
        sockets[i].open = false
        sockets[i].closedAt = world.now
        if let port = sockets[i].listening {
            listeners[sockets[i].host << 16 | Int(port)] = nil
            for s in sockets[i].backlog { reset(s) }
        } else if sockets[i].peer >= 0 && sockets[i].error == 0 {
            transmit(.fin(sockets[i].peer), from: i)
        }
    }

    /// What poll would say of `fd` (POLLIN, POLLOUT, POLLERR, POLLHUP) for the `events` asked.
    func revents(_ fd: Int32, _ events: Int16) -> Int16 {
        guard let i = socket(fd) else { return Int16(POLLNVAL) }
        let s = sockets[i]
        var r: Int16 = 0
        if s.listening != nil { return s.backlog.isEmpty ? 0 : events & Int16(POLLIN) }
        if s.error != 0 { r |= Int16(POLLERR) }
        if !s.inbox.isEmpty || s.finReceived || s.error != 0 { r |= events & Int16(POLLIN) }
        if s.connected || s.error != 0 { r |= events & Int16(POLLOUT) }
        return r
    }

    // MARK: The wire

    /// Sends toward socket `to`'s side in stream order; a segment lost for good resets the connection.
    private func transmit(_ event: Event, from i: Int) {
        let to: Int
        switch event {
        case .data(let s, _), .fin(let s), .reset(let s), .syn(let s), .synAck(let s), .refused(let s), .wake(let s): to = s
        }
        if let at = world.send(event, from: sockets[i].host, to: sockets[to].host, notBefore: sockets[to].lastArrival) {
            sockets[to].lastArrival = at
        } else {
            // TCP gave up after its retransmissions: both ends see the connection reset.
            broken += 1
            world.schedule(.reset(to), for: sockets[to].host, at: world.now + 6_000)
            world.schedule(.reset(i), for: sockets[i].host, at: world.now + 6_000)
        }
    }

    private func reset(_ s: Int) {
        guard sockets[s].error == 0 else { return }
        sockets[s].error = ECONNRESET
        sockets[s].connecting = false
        touched.insert(sockets[s].host)
    }

    /// Applies one delivery to the sockets it concerns, and notes whose agent has news (`touched`).
    func deliver(_ event: Event) {
        switch event {
        case .syn(let c):
            let target = sockets[c].target
            if let l = listeners[target.host << 16 | Int(target.port)], sockets[l].backlog.count < 128 {
                var s = Socket(host: target.host)
                s.openedAt = world.now
                s.peer = c
                s.connected = true
                sockets.append(s)
                let server = sockets.count - 1
                sockets[c].peer = server
                sockets[l].backlog.append(server)
                touched.insert(target.host)
                transmit(.synAck(c), from: server)
            } else {
                world.send(.refused(c), from: target.host, to: sockets[c].host)
            }
        case .synAck(let c):
            guard sockets[c].connecting else { return }
            sockets[c].connecting = false
            sockets[c].connected = true
            if !sockets[c].open { transmit(.fin(sockets[c].peer), from: c) }  // closed while connecting
            touched.insert(sockets[c].host)
        case .refused(let c):
            guard sockets[c].connecting else { return }
            sockets[c].connecting = false
            sockets[c].error = ECONNREFUSED
            touched.insert(sockets[c].host)
        case .data(let s, let bytes):
            guard sockets[s].open, sockets[s].error == 0 else {
                // Bytes for a socket closed here: its peer gets a reset, as from a kernel.
                if sockets[s].peer >= 0 && !sockets[s].open { reset(sockets[s].peer) }
                return
            }
            sockets[s].inbox += bytes
            touched.insert(sockets[s].host)
        case .fin(let s):
            sockets[s].finReceived = true
            touched.insert(sockets[s].host)
        case .reset(let s):
            reset(s)
        case .wake(let host):
            touched.insert(host)
        }
    }

    // MARK: Installing it

    /// Routes `Net` and libsodium's randomness to this network and `random` for the length of `body`, then puts the
    /// kernel's and the system's back (other tests share the process).
    func run<T>(random seed: UInt64, _ body: () -> T) -> T {
        Self.current = self
        SimEntropy.state = SimRandom(seed: seed)
        let name = String(cString: randombytes_implementation_name())
        randombytes_set_implementation(&SimEntropy.implementation)
        Net.calls = NetCalls(
            listen: { ip, port, bound in
                let net = SimNet.current!
                let fd = net.listen(host: SimNet.host(String(cString: ip!)) ?? net.caller, port: port)
                if fd >= 0, let i = net.socket(fd) { bound?.pointee = net.sockets[i].listening! }
                return fd
            },
            connect: { ip, port, _ in
                let net = SimNet.current!
                // An address outside the simulated network: nobody there (a black hole).
                return net.connect(from: net.caller, to: SimNet.host(String(cString: ip!)) ?? -1, port: port)
            },
            accept: { fd, text, length, source in
                guard let (s, from) = SimNet.current!.accept(fd) else { return -EAGAIN }
                let address = Array(SimNet.address(from).utf8CString)
                address.withUnsafeBufferPointer { text!.update(from: $0.baseAddress!, count: min(length, $0.count)) }
                source?.pointee = 0xFFFF << 48 | UInt64(from)
                return s
            },
            socketError: { fd in
                guard let net = SimNet.current, let i = net.socket(fd) else { return EBADF }
                return net.sockets[i].error
            },
            read: { fd, buffer, count in SimNet.current!.read(fd, into: UnsafeMutableRawBufferPointer(start: buffer, count: count)) },
            write: { fd, bytes, count in SimNet.current!.write(fd, UnsafeRawBufferPointer(start: bytes, count: count)) },
            close: { fd in
                SimNet.current?.close(fd)
                return 0
            })
        defer {
            Net.calls = NetCalls.system
            // libsodium's own implementations, by name (its globals are mutable C state to Swift 6).
            let previous = dlsym(nil, name == "sysrandom" ? "randombytes_sysrandom_implementation" : "randombytes_internal_implementation")
            randombytes_set_implementation(previous!.assumingMemoryBound(to: randombytes_implementation.self))
            Self.current = nil
        }
        return body()
    }
}

/// libsodium's randomness during a run (`randombytes_set_implementation`, libsodium's own seam): every key, nonce and
/// code the agents draw follows from the seed, so one seed is one run, byte for byte.
enum SimEntropy {
    nonisolated(unsafe) static var state = SimRandom(seed: 0)
    nonisolated(unsafe) static var implementation = randombytes_implementation(
        implementation_name: { UnsafeRawPointer(StaticString("sd-pair-simulation").utf8Start).assumingMemoryBound(to: CChar.self) },
        random: { UInt32(truncatingIfNeeded: SimEntropy.state.next()) },
        stir: nil,
        uniform: nil,
        buf: { buffer, size in SimEntropy.state.fill(UnsafeMutableRawBufferPointer(start: buffer, count: size)) },
        close: nil)
}
