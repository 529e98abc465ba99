import CSupport

/// An errno from the system, with the operation that failed, for one-line log messages.
public struct SystemError: Error, Equatable, Sendable {
    public var code: Int32
    public init(_ code: Int32) { self.code = code }

    public var name: String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "connection reset"
        case ETIMEDOUT: "timed out"
        case EADDRINUSE: "address in use"
        case EADDRNOTAVAIL: "address not available"
        case EACCES: "permission denied"
        case EINVAL: "invalid address"
        case EMFILE, ENFILE: "too many open files"
        case ENETUNREACH: "network unreachable"
        case EHOSTUNREACH: "host unreachable"
        case EPIPE: "broken pipe"
        case ENOENT: "no such file"
        case ENAMETOOLONG: "path too long"
        default: "errno " + String(code)
        }
    }
}

/// Outcome of a non-blocking read or write.
public enum IOResult: Equatable, Sendable {
    case bytes(Int)
    case wouldBlock
    /// The peer closed the connection (read returned 0).
    case closed
    case failed(SystemError)
}

/// The system calls under `Net`'s listeners and connections, as C function pointers: the one seam between the
/// agent and the network, as smoltcp's `Device` or libsodium's `randombytes_set_implementation`. The deterministic
/// simulator (a test target) sets its own for a run, so that whole agents meet over a simulated network with a
/// virtual clock; a program leaves `Net.calls` as it is.
public struct NetCalls {
    public var listen: @convention(c) (UnsafePointer<CChar>?, UInt16, UnsafeMutablePointer<UInt16>?) -> Int32
    public var connect: @convention(c) (UnsafePointer<CChar>?, UInt16, UInt32) -> Int32
    public var accept: @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<UInt64>?) -> Int32
    public var socketError: @convention(c) (Int32) -> Int32
    public var read: @convention(c) (Int32, UnsafeMutableRawPointer?, Int) -> Int
    public var write: @convention(c) (Int32, UnsafeRawPointer?, Int) -> Int
    public var close: @convention(c) (Int32) -> Int32

    public init(
        listen: @convention(c) (UnsafePointer<CChar>?, UInt16, UnsafeMutablePointer<UInt16>?) -> Int32,
        connect: @convention(c) (UnsafePointer<CChar>?, UInt16, UInt32) -> Int32,
        accept: @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<UInt64>?) -> Int32,
        socketError: @convention(c) (Int32) -> Int32,
        read: @convention(c) (Int32, UnsafeMutableRawPointer?, Int) -> Int,
        write: @convention(c) (Int32, UnsafeRawPointer?, Int) -> Int,
        close: @convention(c) (Int32) -> Int32
    ) {
        (self.listen, self.connect, self.accept, self.socketError) = (listen, connect, accept, socketError)
        (self.read, self.write, self.close) = (read, write, close)
    }

    /// The kernel's.
    public static var system: NetCalls {
        @inline(__always) get {
            NetCalls(listen: sd_tcp_listen, connect: sd_tcp_connect_scoped, accept: sd_tcp_accept, socketError: sd_socket_error,
                read: sd_read, write: sd_write, close: { CSupport.close($0) })
        }
    }
}

/// Non-blocking TCP over literal IPv4/IPv6 addresses. Every call returns at once.
public enum Net {
    #if SDPAIR_BOARD
    /// A board never runs the simulator: the calls fold into direct ones (the settable table costs ~700 bytes).
    public static var calls: NetCalls { @inline(__always) get { .system } }
    #else
    /// What the calls below go through. Set only by the simulator, between runs, on one thread (so exclusivity is
    /// not checked: it is read on every socket call).
    @exclusivity(unchecked) nonisolated(unsafe) public static var calls = NetCalls.system
    #endif

    public static func listen(host: String, port: UInt16) -> Result<(fd: Int32, port: UInt16), SystemError> {
        var bound: UInt16 = 0
        let fd = host.withCString { calls.listen($0, port, &bound) }
        return fd < 0 ? .failure(SystemError(-fd)) : .success((fd, bound))
    }

    /// A socket bound to a free port, to be connected later (`connect(_:host:port:)`): a hole punch says its port
    /// before it dials.
    public static func boundSocket(ipv6: Bool) -> Result<(fd: Int32, port: UInt16), SystemError> {
        var bound: UInt16 = 0
        let fd = sd_tcp_bind_any(ipv6 ? 1 : 0, &bound)
        return fd < 0 ? .failure(SystemError(-fd)) : .success((fd, bound))
    }

    /// Starts connecting a socket from `boundSocket`; nil when under way.
    public static func connect(_ fd: Int32, host: String, port: UInt16) -> SystemError? {
        let rc = host.withCString { sd_tcp_connect_from(fd, $0, port) }
        return rc < 0 ? SystemError(-rc) : nil
    }

    /// `scope`: the interface index of an IPv6 link-local address (from mDNS); 0 for none.
    public static func connect(host: String, port: UInt16, scope: UInt32 = 0) -> Result<Int32, SystemError> {
        let fd = host.withCString { calls.connect($0, port, scope) }
        return fd < 0 ? .failure(SystemError(-fd)) : .success(fd)
    }

    public enum Accepted: Equatable {
        /// `source`: the peer's network for fair sharing (its IPv4 /32 or IPv6 /64, see sd_tcp_accept).
        case connection(fd: Int32, peer: String, source: UInt64)
        case none
        case failed(SystemError)
    }

    public static func accept(_ fd: Int32) -> Accepted {
        var text = InlineArray<64, CChar>(repeating: 0)
        var span = text.mutableSpan
        var source: UInt64 = 0
        let result = span.withUnsafeMutableBufferPointer { buffer in calls.accept(fd, buffer.baseAddress, 64, &source) }
        if result == -EAGAIN || result == -EWOULDBLOCK { return .none }
        if result < 0 { return .failed(SystemError(-result)) }
        let peer = text.span.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return .connection(fd: result, peer: peer, source: source)
    }

    /// The result of a non-blocking connect, once the socket is writable.
    public static func connectResult(_ fd: Int32) -> SystemError? {
        let code = calls.socketError(fd)
        return code == 0 ? nil : SystemError(code)
    }

    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        guard buffer.count > 0 else { return .wouldBlock }
        let n = calls.read(fd, buffer.baseAddress, buffer.count)
        return classify(n, zeroMeansClosed: true)
    }

    public static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        guard bytes.count > 0 else { return .bytes(0) }
        return classify(calls.write(fd, bytes.baseAddress, bytes.count), zeroMeansClosed: false)
    }

    static func classify(_ n: Int, zeroMeansClosed: Bool) -> IOResult {
        if n > 0 { return .bytes(n) }
        if n == 0 { return zeroMeansClosed ? .closed : .bytes(0) }
        let code = Int32(-n)
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        return .failed(SystemError(code))
    }

    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = calls.close(fd) }
    }
}
