/// Stream protocol ids the agent speaks.
public enum Protocols {
    public static var pairing: StaticString { "/sd-pair/pairing/1.0.0" }
    public static var ping: StaticString { "/ipfs/ping/1.0.0" }
    /// Test-only echo service (`--test-echo`), for interop tests with py-libp2p.
    public static var echo: StaticString { "/sd-pair/test-echo/1.0.0" }
}

/// Limits of the agent, each with its reason.
public enum AgentLimits {
    /// Concurrent connections: the real joiner, a retry, and a little room for strangers; more are refused at
    /// accept, so a flood cannot grow memory.
    public static let maxConnections = 4
    /// A connection that has not finished Noise and yamux by then is dropped (slow-drip peers).
    public static let handshakeTimeoutMilliseconds: UInt64 = 10_000
    /// An accepted connection that has finished its handshake but then says nothing for this many handshake
    /// timeouts (30 s by default) is dropped: a pairing takes four messages in well under a second, so a silent
    /// connection only holds a slot (and, being authenticated, is never evicted for a newcomer).
    public static let idleTimeoutFactor: UInt64 = 3
    /// With every slot taken, a new connection replaces the accepted one that has been in its handshake longest;
    /// the evictions are logged as one line per this interval, not one line each.
    public static let evictionLogIntervalMilliseconds: UInt64 = 10_000
    /// One framed pairing message at most (4096 + 3-byte prefix), rounded up: the per-stream buffer.
    public static let streamBufferSize = 4608
    /// libp2p ping payload size.
    public static let pingLength = 32
    /// How long to keep flushing the last messages (e.g. `Complete`) before exiting.
    public static let lingerMilliseconds: UInt64 = 2_000
}
