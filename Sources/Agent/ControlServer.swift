import EventLoop
import Wire

/// The daemon's end of the control socket (`<state-dir>/control`, 0600): accepts local clients, collects one request
/// line from each, and writes the replies the node decides (`ControlProtocol`). Fixed memory: `maxClients` slots of
/// `ControlProtocol.maxRequest` bytes; while they are taken the listener is not polled and the kernel's backlog
/// holds further clients.
public final class ControlServer {
    /// One client follows the open window (invite); one more can ask for status meanwhile.
    public static let maxClients = 2
    /// A client must send its request line within this time, so that a silent one cannot hold a slot.
    public static let requestTimeoutMilliseconds: UInt64 = 5000

    struct Client {
        var fd: Int32 = -1
        var input = FixedBytes<64>()
        var count = 0
        var deadline: UInt64 = 0
        /// Answered `invite`: the connection stays open until the window closes.
        var following = false
        /// A complete (or refused) request waits for the node.
        var pending: Result<ControlRequest, ControlProtocolError>? = nil
        var isFree: Bool { fd < 0 }
    }

    public let path: String
    private var listener: Int32
    private var clients = InlineArray<2, Client>(repeating: Client())
    private var listenerSlot = -1
    private var clientSlots = InlineArray<2, Int>(repeating: -1)
    /// Set when a client that followed the window hung up before it closed; `takeFollowerLeft` reads and clears it.
    private var followerLeft = false

    private init(path: String, listener: Int32) {
        self.path = path
        self.listener = listener
    }

    /// Listens at `path`. `.failure(EADDRINUSE)`: another agent serves there.
    public static func open(path: String) -> Result<ControlServer, SystemError> {
        switch Net.listenLocal(path: path) {
        case .success(let fd): return .success(ControlServer(path: path, listener: fd))
        case .failure(let e): return .failure(e)
        }
    }

    /// Closes every connection and removes the socket file. Idempotent.
    public func close() {
        guard listener >= 0 else { return }
        for i in 0..<Self.maxClients where !clients[i].isFree { drop(i) }
        Net.close(listener)
        listener = -1
        Net.removeFile(path)
    }

    deinit { close() }

    // MARK: The loop's side

    public func register(into set: inout PollSet) {
        listenerSlot = -1
        guard listener >= 0 else { return }
        var hasFree = false
        for i in 0..<Self.maxClients {
            clientSlots[i] = -1
            if clients[i].isFree {
                hasFree = true
            } else if clients[i].pending == nil {
                clientSlots[i] = set.add(clients[i].fd, readable: true, writable: false) ?? -1
            }
        }
        if hasFree { listenerSlot = set.add(listener, readable: true, writable: false) ?? -1 }
    }

    public var nextDeadline: UInt64? {
        var next: UInt64? = nil
        for i in 0..<Self.maxClients where !clients[i].isFree && !clients[i].following {
            next = min(next ?? clients[i].deadline, clients[i].deadline)
        }
        return next
    }

    public func dispatch(_ set: PollSet, now: UInt64) {
        for i in 0..<Self.maxClients where clientSlots[i] >= 0 && set.isReadable(clientSlots[i]) { read(i) }
        for i in 0..<Self.maxClients where !clients[i].isFree && !clients[i].following && now >= clients[i].deadline {
            drop(i)
        }
        if listenerSlot >= 0, set.isReadable(listenerSlot) { accept(now: now) }
    }

    /// The next request for the node to answer, with the client to answer.
    public func nextRequest() -> (client: Int, request: Result<ControlRequest, ControlProtocolError>)? {
        for i in 0..<Self.maxClients where !clients[i].isFree {
            if let request = clients[i].pending {
                clients[i].pending = nil
                return (i, request)
            }
        }
        return nil
    }

    /// Answers `client` with encoded reply lines; with `close`, ends its connection.
    public func reply(_ client: Int, _ text: String, close: Bool) {
        var copy = text
        copy.withUTF8 { reply(client, bytes: UnsafeRawBufferPointer($0), close: close) }
    }

    public func reply(_ client: Int, bytes: UnsafeRawBufferPointer, close: Bool) {
        guard !clients[client].isFree else { return }
        // A few hundred bytes into an empty socket buffer: a short write means the client is gone or stuck.
        guard case .bytes(let n) = Net.write(clients[client].fd, bytes), n == bytes.count, !close else {
            drop(client)
            return
        }
    }

    public func reply(_ client: Int, _ line: ControlReply, close: Bool) { reply(client, ControlProtocol.encode(line), close: close) }

    /// `client` follows the open window: it hears how the window ends (`windowClosed`).
    public func follow(_ client: Int) {
        guard !clients[client].isFree else { return }
        clients[client].following = true
        clients[client].count = 0  // from now on the buffer only catches stray bytes while we watch for hang-up
    }

    /// The window ended: tells its followers how, and closes them.
    public func windowClosed(_ how: ControlReply) {
        followerLeft = false
        let text = ControlProtocol.encode(how)
        for i in 0..<Self.maxClients where !clients[i].isFree && clients[i].following { reply(i, text, close: true) }
    }

    /// Whether the window's follower hung up since the last call (the node then cancels the window).
    public func takeFollowerLeft() -> Bool {
        defer { followerLeft = false }
        return followerLeft
    }

    // MARK: Sockets

    private func accept(now: UInt64) {
        for i in 0..<Self.maxClients where clients[i].isFree {
            switch Net.accept(listener) {
            case .connection(let fd, _, _):
                clients[i] = Client()
                clients[i].fd = fd
                clients[i].deadline = now + Self.requestTimeoutMilliseconds
            case .none, .failed:
                return
            }
        }
    }

    private func read(_ i: Int) {
        let (fd, count) = (clients[i].fd, clients[i].count)
        let result = clients[i].input.withUnsafeMutableBytes { buffer in
            Net.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]))
        }
        switch result {
        case .bytes(let n):
            guard !clients[i].following else { return }  // followers have nothing more to say; ignore
            clients[i].count += n
            let parsed = clients[i].input.withUnsafeBytes { ControlProtocol.request(UnsafeRawBufferPointer(rebasing: $0[0..<clients[i].count])) }
            switch parsed {
            case .success(nil): break
            case .success(let request?): clients[i].pending = .success(request)
            case .failure(let e): clients[i].pending = .failure(e)
            }
        case .wouldBlock:
            break
        case .closed, .failed:
            if clients[i].following { followerLeft = true }
            drop(i)
        }
    }

    private func drop(_ i: Int) {
        Net.close(clients[i].fd)
        clients[i] = Client()
    }
}
