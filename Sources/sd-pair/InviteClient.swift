import Agent
import CSupport
import EventLoop
import Pairing
import Registry
import Wire

/// `sd-pair invite` while `sd-pair serve` runs for the same state directory: rather than a second agent with the
/// same identity, it asks the daemon for a window over the control socket (`ControlProtocol`), prints the code as
/// a standalone invite would, and follows the window to its end. Leaving early (Ctrl-C) closes the window.
enum InviteClient {
    static func socketPath(stateDirectory: String) -> String { stateDirectory + "/control" }

    /// Waiting for the daemon's first reply; after it, the window's own lifetime plus this margin bounds the wait.
    static let replyTimeoutMilliseconds: UInt64 = 10_000

    /// nil when no daemon answers at the state directory's control socket: the caller opens the window itself.
    /// `short`: this invite's settings ask for a short code; the daemon's own settings decide, and a mismatch is said.
    static func run(stateDirectory: String, events: EventSink, qr: Bool, short: Bool) -> ExitCode? {
        let path = socketPath(stateDirectory: stateDirectory)
        let fd: Int32
        switch Net.connectLocal(path: path) {
        case .success(let f): fd = f
        case .failure(let e):
            // Nobody listens there (no socket, a dead one, or a state directory that cannot hold one): no daemon.
            if e.code == ENOENT || e.code == ECONNREFUSED || e.code == ENOTDIR || e.code == ENAMETOOLONG { return nil }
            Output.error("invite: cannot reach the running agent at " + path + ": " + e.name
                + (e.code == EACCES ? " (run as the agent's user or root)" : ""))
            return .environment
        }
        defer { Net.close(fd) }
        // Whoever answers gets to show us a code and tell us a device paired: only the directory's owner (a checked
        // directory), root, or ourselves — not a local user who put a socket into a directory we were pointed at.
        let owner: UInt32
        switch StateDirectory.check(stateDirectory) {
        case .success(let uid): owner = uid
        case .failure(let e):
            Output.error("invite: " + e.message)
            return .environment
        }
        let peer = sd_peer_uid(fd)
        guard peer >= 0, peer == 0 || UInt32(peer) == owner || UInt32(peer) == sd_euid() else {
            Output.error("invite: the control socket " + path + " is served by another user (uid " + String(peer)
                + "), not the state directory's owner; refusing to trust it")
            return .environment
        }
        Output.error("a running agent serves " + stateDirectory + "; asking it for a pairing window (its settings apply)")
        let request = ControlProtocol.encode(.invite)
        guard case .bytes(let n) = Net.write(fd, UnsafeRawBufferPointer(start: request.utf8Start, count: request.utf8CodeUnitCount)),
            n == request.utf8CodeUnitCount
        else {
            Output.error("invite: the running agent closed the control socket")
            return .environment
        }
        var follower = Follower(events: events, qr: qr)
        follower.short = short
        return follower.follow(fd, signals: NetworkCommands.signals())
    }

    /// Reads reply lines until the window's end; prints what a standalone invite prints.
    struct Follower {
        let events: EventSink
        let qr: Bool
        var short = false
        var input = FixedBytes<512>()
        var count = 0
        var words = ""
        var deadline = MonotonicClock.milliseconds() + InviteClient.replyTimeoutMilliseconds

        init(events: EventSink, qr: Bool) {
            self.events = events
            self.qr = qr
        }

        mutating func follow(_ fd: Int32, signals: SignalPipe?) -> ExitCode {
            var set = PollSet()
            while true {
                let now = MonotonicClock.milliseconds()
                guard now < deadline else {
                    Output.error("invite: no word from the running agent; giving up")
                    return .pairingFailed
                }
                set.reset()
                let socketSlot = set.add(fd, readable: true, writable: false)
                let signalSlot = signals.flatMap { set.add($0.fd, readable: true, writable: false) }
                if case .failure(let e) = set.wait(timeoutMilliseconds: Int32(min(deadline - now, 1000))) {
                    Output.error("invite: poll failed: " + e.name)
                    return .environment
                }
                if let slot = signalSlot, set.isReadable(slot), let signals {
                    while let s = signals.next() {
                        if s == SignalPipe.interrupt || s == SignalPipe.terminate {
                            Output.error("interrupted; the running agent closes the window")
                            return .interrupted
                        }
                    }
                }
                guard let slot = socketSlot, set.isReadable(slot) else { continue }
                let used = count
                let result = input.withUnsafeMutableBytes { Net.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[used...])) }
                switch result {
                case .bytes(let n): count += n
                case .wouldBlock: continue
                case .closed, .failed:
                    Output.error("invite: the running agent closed the control socket before the window ended")
                    return .pairingFailed
                }
                if let exit = takeLines() { return exit }
            }
        }

        /// Handles the complete lines in the buffer; an exit code once the window has ended.
        mutating func takeLines() -> ExitCode? {
            while true {
                let end = input.withUnsafeBytes { $0[0..<count].firstIndex(of: UInt8(ascii: "\n")) }
                guard let end else {
                    if count == 512 {
                        Output.error("invite: the running agent sent a malformed reply")
                        return .environment
                    }
                    return nil
                }
                let reply = input.withUnsafeBytes { ControlProtocol.reply(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
                let rest = count - end - 1
                input.withUnsafeMutableBytes { buffer in
                    for i in 0..<rest { buffer[i] = buffer[end + 1 + i] }
                }
                count = rest
                guard let reply else {
                    Output.error("invite: the running agent sent a malformed reply")
                    return .environment
                }
                if let exit = handle(reply) { return exit }
            }
        }

        mutating func handle(_ reply: ControlReply) -> ExitCode? {
            switch reply.verb {
            case .code:
                words = reply.text
                Output.line("CODE: " + words)
            case .expires:
                let seconds = reply.seconds ?? 0
                Output.line("sd-pair: pairing code: " + words + " (expires in " + reply.text + " s)")
                var copy = words
                var spelled = copy.withUTF8 { CodeWords(UnsafeRawBufferPointer($0)) }
                if short != spelled.isShort {
                    Output.error("notice: the running agent chose the kind of code: its own settings decide (code = words|short in /etc/sd-pair.conf, or serve --short)")
                }
                if qr { NetworkCommands.printQR(spelled) }
                events.emitWaiting(spelled, sessionID: nil, expiresIn: seconds)
                spelled.wipe()
                deadline = MonotonicClock.milliseconds() + UInt64(seconds) * 1000 + InviteClient.replyTimeoutMilliseconds
            case .paired:
                let (id, name) = Self.split(reply.text)
                events.emit(.completed(deviceID: id, deviceName: name))
                Output.line("PAIRED " + reply.text)
                return .success
            case .closed:
                events.emit(RunEnding.isCodeExpiry(reply.text) ? .expired : .failed(reason: reply.text))
                Output.error(reply.text)
                return .pairingFailed
            case .error:
                Output.error("invite: the running agent refused: " + reply.text)
                return .pairingFailed
            case .status:
                break
            }
            return nil
        }

        /// "<device-id> <name>": the id has no spaces, the name may.
        static func split(_ text: String) -> (String, String) {
            guard let space = text.utf8.firstIndex(of: UInt8(ascii: " ")) else { return (text, "") }
            return (String(text[..<space]), String(text[text.utf8.index(after: space)...]))
        }
    }
}
