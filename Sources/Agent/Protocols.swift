import Transport

/// Stream protocol ids the agent speaks.
public enum Protocols {
    public static var pairing: StaticString { "/sd-pair/pairing/1.0.0" }
    public static var ping: StaticString { "/ipfs/ping/1.0.0" }
    public static var identify: StaticString { Identify.protocolID }
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
    /// An accepted connection that has finished its handshake but then sends no stream data for this many handshake
    /// timeouts (30 s by default) is dropped: a pairing takes four messages in well under a second, so a silent
    /// connection only holds a slot. Keep-alives (yamux pings, window updates) are not stream data.
    public static let idleTimeoutFactor: UInt64 = 3
    /// With every slot taken, a new connection replaces an accepted one that has not proved the code: an unfinished
    /// handshake first, then an established but unproven one; the evictions are logged as one line per this
    /// interval, not one line each.
    public static let evictionLogIntervalMilliseconds: UInt64 = 10_000
    /// Under pressure (table full), the slots one source network (IPv4 /32, IPv6 /64) may keep: a newcomer from a
    /// source at its share replaces that source's own oldest unproven connection. Two, not one: a household behind
    /// one address may have a joiner and a retry in flight.
    public static let connectionsPerSource = 2
    /// The joiner dials at most this many candidates at once (the table has 4 slots; the DHT keeps one for itself
    /// while it runs), starting the next one this long after the previous while that is still pending (RFC 8305's
    /// "Connection Attempt Delay", 250 ms recommended).
    public static let parallelDials = 3
    public static let dialStaggerMilliseconds: UInt64 = 250
    /// With every dial slot held by TCP connects unanswered this long while other addresses wait, the oldest makes
    /// room (and is tried again after them, with the full timeout): on a LAN a SYN is answered in milliseconds, and
    /// a device's live address may come after dead ones (a VPN, a container bridge, a stale answer).
    public static let slowConnectMilliseconds: UInt64 = 750
    /// One framed pairing message at most (4096 + 3-byte prefix), rounded up: the per-stream buffer.
    public static let streamBufferSize = 4608
    /// libp2p ping payload size.
    public static let pingLength = 32
    /// How long to keep flushing the last messages (e.g. `Complete`) before exiting.
    public static let lingerMilliseconds: UInt64 = 2_000
}
