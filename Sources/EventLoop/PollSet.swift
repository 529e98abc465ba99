import CSupport

/// The file descriptors of one `poll()` round, in fixed storage: the loop adds what it wants to hear about, waits,
/// then asks per slot what happened.
public struct PollSet {
    /// Listeners, connections, the signal pipe and Avahi's watches together stay far below this.
    public static let capacity = 32

    private var entries = InlineArray<32, pollfd>(repeating: pollfd(fd: -1, events: 0, revents: 0))
    public private(set) var count = 0

    public init() {}

    public mutating func reset() { count = 0 }

    /// Adds `fd`; returns its slot, or nil when the set is full.
    public mutating func add(_ fd: Int32, readable: Bool, writable: Bool) -> Int? {
        guard count < Self.capacity else { return nil }
        var events: Int16 = 0
        if readable { events |= Int16(POLLIN) }
        if writable { events |= Int16(POLLOUT) }
        entries[count] = pollfd(fd: fd, events: events, revents: 0)
        count += 1
        return count - 1
    }

    /// Waits until something is ready or `timeoutMilliseconds` pass (-1: no limit). Returns the number ready.
    public mutating func wait(timeoutMilliseconds: Int32) -> Result<Int, SystemError> {
        var span = entries.mutableSpan
        let n = span.withUnsafeMutableBufferPointer { buffer in sd_poll(buffer.baseAddress, UInt(count), timeoutMilliseconds) }
        return n < 0 ? .failure(SystemError(-n)) : .success(Int(n))
    }

    /// For a program that polls in its own loop (the embedding API): the descriptor and events of `slot`, to copy
    /// into its own `pollfd` array, and `returned` to hand back what its poll reported for that slot.
    public func entry(_ slot: Int) -> pollfd { entries[slot] }
    public mutating func returned(_ slot: Int, events: Int16) { entries[slot].revents = events }

    public func isReadable(_ slot: Int) -> Bool { entries[slot].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 }
    public func isWritable(_ slot: Int) -> Bool { entries[slot].revents & Int16(POLLOUT | POLLERR | POLLHUP) != 0 }
    public func hasError(_ slot: Int) -> Bool { entries[slot].revents & Int16(POLLERR | POLLNVAL) != 0 }
}

/// The monotonic clock, in milliseconds.
public enum MonotonicClock {
    public static func milliseconds() -> UInt64 { sd_monotonic_ms() }
    public static func nanoseconds() -> UInt64 { sd_monotonic_ns() }
}

/// SIGINT, SIGTERM and SIGUSR1 delivered through a self-pipe, so the loop sees them as a readable fd.
public struct SignalPipe {
    public let fd: Int32

    public static func install() -> Result<SignalPipe, SystemError> {
        let fd = sd_signal_pipe()
        return fd < 0 ? .failure(SystemError(-fd)) : .success(SignalPipe(fd: fd))
    }

    /// The next pending signal number, or nil.
    public func next() -> Int32? {
        let s = sd_next_signal(fd)
        return s == 0 ? nil : s
    }

    public static var interrupt: Int32 { SIGINT }
    public static var terminate: Int32 { SIGTERM }
    public static var user1: Int32 { SIGUSR1 }
}

/// A pipe the loop reads like a `SignalPipe`, for a program that embeds the agent and must not take over the
/// process's signals: `send(SIGTERM)` from any thread (or a signal handler of its own) ends the loop.
public final class WakePipe: @unchecked Sendable {  // two fds fixed at creation; write(2) on a pipe is thread-safe
    public let reader: SignalPipe
    private let writer: Int32

    public init?() {
        var fds = InlineArray<2, Int32>(repeating: -1)
        var span = fds.mutableSpan
        let rc = span.withUnsafeMutableBufferPointer { sd_pipe($0.baseAddress) }
        guard rc == 0 else { return nil }
        reader = SignalPipe(fd: fds[0])
        writer = fds[1]
    }

    public func send(_ signal: Int32) { sd_write_byte(writer, signal) }

    deinit {
        Net.close(reader.fd)
        Net.close(writer)
    }
}
