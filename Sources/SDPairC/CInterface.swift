import Agent
import CSupport
import Crypto
import Discovery
import Pairing
import SDPair

// The C face of `SDPair` (include/sd_pair.h): a handle is a `Handle` behind an opaque pointer, each function a thin
// translation of a `PairingAgent` / `PairingSession` call. The status numbers are the header's.

/// One `sd_pair *`: the agent, its running session, the event callback, and the last message in fixed storage.
final class Handle {
    let agent: PairingAgent
    var session: PairingSession? = nil
    var result: PairingResult? = nil
    var onEvent: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void)? = nil
    var context: UnsafeMutableRawPointer? = nil
    /// sd_pair_start_initiator's buffer while the window opens (the `waiting` state carries the code).
    var codeOut: (pointer: UnsafeMutablePointer<CChar>, size: Int)? = nil
    let message = UnsafeMutablePointer<CChar>.allocate(capacity: 512)

    init(_ agent: PairingAgent) {
        self.agent = agent
        message[0] = 0
    }

    deinit {
        session = nil  // closes its sockets and frees the agent
        message.deallocate()
    }

    func say(_ text: String) { _ = copy(text, into: message, 512, truncating: true) }

    /// Remembers the message of a failed call and returns its status.
    func fail(_ status: Int32, _ text: String) -> Int32 {
        say(text)
        return status
    }

    /// The session's state callback. It holds the handle unretained: the handle owns the session, which owns the
    /// callback, so the handle outlives every call (a retained one would be a cycle; Embedded Swift has no `unowned`).
    var events: (PairingEvent) -> Void {
        let handle = Unmanaged.passUnretained(self)
        return { handle.takeUnretainedValue().state($0) }
    }

    func state(_ event: PairingEvent) {
        if case .waiting(let code, _, _) = event, let (pointer, size) = codeOut { _ = copy(code, into: pointer, size) }
        guard let onEvent else { return }
        var line = event.json(time: sd_unix_time())
        line.withUTF8 { bytes in
            // One NUL-ended copy on the stack (events are short, and rare: a few a pairing), cleared after the call:
            // the `waiting` event carries the code.
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { c in
                for k in 0..<bytes.count { c[k] = CChar(bitPattern: bytes[k]) }
                c[bytes.count] = 0
                onEvent(context, c.baseAddress)
                Sodium.wipe(UnsafeMutableRawBufferPointer(c))
            }
        }
    }

    /// The status of a finished pairing, its reason kept for sd_pair_message.
    func finished(_ r: PairingResult) -> Int32 {
        result = r
        session = nil
        switch r {
        case .paired(let id, let name): say(id + " " + name); return 1
        case .expired: say("the code expired before a device paired"); return 2
        case .cancelled: say("cancelled"); return 3
        case .failed(let reason): say(reason); return 4
        }
    }

    func started(_ make: () throws(PairingAgentError) -> PairingSession) -> Int32 {
        guard session == nil else { return fail(-3, PairingAgentError.busy.message) }
        do {
            session = try make()
            result = nil
            say("")
            return 0
        } catch {
            return fail(Self.status(error), error.message)
        }
    }

    static func status(_ e: PairingAgentError) -> Int32 {
        switch e {
        case .invalidSetting: -1
        case .invalidCode: -2
        case .busy: -3
        case .stateDirectory: -4
        case .system: -5
        }
    }
}

/// Copies `text` and a NUL into `out` (`size` bytes). Returns its length, or SD_PAIR_ERR_SPACE (nothing copied)
/// unless `truncating`.
func copy(_ text: String, into out: UnsafeMutablePointer<CChar>?, _ size: Int, truncating: Bool = false) -> Int32 {
    guard let out, size > 0 else { return -6 }
    var text = text
    return text.withUTF8 { bytes in
        guard bytes.count < size || truncating else { return -6 }
        let n = min(bytes.count, size - 1)
        for k in 0..<n { out[k] = CChar(bitPattern: bytes[k]) }
        out[n] = 0
        return Int32(n)
    }
}

func handle(_ p: OpaquePointer?) -> Handle? {
    p.map { Unmanaged<Handle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
}

@_cdecl("sd_pair_new")
public func sd_pair_new(_ stateDirectory: UnsafePointer<CChar>?, _ settings: UnsafePointer<CChar>?, _ errorText: UnsafeMutablePointer<CChar>?, _ errorSize: Int) -> OpaquePointer? {
    guard let stateDirectory else {
        _ = copy("state_dir is NULL", into: errorText, errorSize, truncating: true)
        return nil
    }
    var configuration = PairingConfiguration(stateDirectory: String(cString: stateDirectory))
    if let settings, let problem = Settings.apply(String(cString: settings), to: &configuration) {
        _ = copy(problem, into: errorText, errorSize, truncating: true)
        return nil
    }
    do {
        let h = Handle(try PairingAgent(configuration))
        return OpaquePointer(Unmanaged.passRetained(h).toOpaque())
    } catch {
        _ = copy(error.message, into: errorText, errorSize, truncating: true)
        return nil
    }
}

@_cdecl("sd_pair_free")
public func sd_pair_free(_ p: OpaquePointer?) {
    guard let p else { return }
    Unmanaged<Handle>.fromOpaque(UnsafeRawPointer(p)).release()
}

@_cdecl("sd_pair_on_event")
public func sd_pair_on_event(_ p: OpaquePointer?, _ fn: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void)?, _ context: UnsafeMutableRawPointer?) {
    guard let h = handle(p) else { return }
    h.onEvent = fn
    h.context = context
}

@_cdecl("sd_pair_start_initiator")
public func sd_pair_start_initiator(_ p: OpaquePointer?, _ code: UnsafeMutablePointer<CChar>?, _ codeSize: Int) -> Int32 {
    guard let h = handle(p) else { return -1 }
    guard let code, codeSize >= 128 else { return h.fail(-6, "the code buffer needs SD_PAIR_CODE_SIZE (128) bytes") }
    h.codeOut = (code, codeSize)
    defer { h.codeOut = nil }
    let events = h.events
    return h.started { () throws(PairingAgentError) in try h.agent.beginPairingAsInitiator(onState: events) }
}

@_cdecl("sd_pair_start_joiner")
public func sd_pair_start_joiner(_ p: OpaquePointer?, _ code: UnsafePointer<CChar>?, _ peer: UnsafePointer<CChar>?) -> Int32 {
    guard let h = handle(p) else { return -1 }
    guard let code else { return h.fail(-2, "code is NULL") }
    let text = String(cString: code)
    let address = peer.map { String(cString: $0) }
    let events = h.events
    return h.started { () throws(PairingAgentError) in try h.agent.beginPairingAsJoiner(code: text, peer: address, onState: events) }
}

@_cdecl("sd_pair_prepare")
public func sd_pair_prepare(
    _ p: OpaquePointer?, _ now: UInt64, _ fds: UnsafeMutablePointer<pollfd>?, _ capacity: Int, _ count: UnsafeMutablePointer<Int>?,
    _ deadline: UnsafeMutablePointer<UInt64>?
) -> Int32 {
    guard let h = handle(p) else { return -1 }
    guard let session = h.session else { return h.fail(-7, "no pairing runs: start one first") }
    if let r = session.prepare(now: now) { return h.finished(r) }
    let wanted = session.descriptors
    guard let fds, let count, let deadline else { return h.fail(-1, "fds, count and deadline_ms must not be NULL") }
    guard wanted.count <= capacity else { return h.fail(-6, "the pollfd array needs SD_PAIR_MAX_FDS (32) entries") }
    for k in 0..<wanted.count { fds[k] = wanted[k] }
    count.pointee = wanted.count
    deadline.pointee = session.deadline
    return 0
}

@_cdecl("sd_pair_step")
public func sd_pair_step(_ p: OpaquePointer?, _ now: UInt64, _ fds: UnsafePointer<pollfd>?, _ count: Int) -> Int32 {
    guard let h = handle(p) else { return -1 }
    guard let session = h.session else { return h.fail(-7, "no pairing runs: start one first") }
    let wanted = session.descriptors
    guard count == wanted.count, count == 0 || fds != nil else {
        return h.fail(-1, "sd_pair_step needs the entries sd_pair_prepare filled, as many as it said")
    }
    for k in 0..<count {
        // Matched by position, and checked: an entry that is not the one prepared would hand its readiness to
        // another descriptor.
        guard fds![k].fd == wanted[k].fd else { return h.fail(-1, "entry " + String(k) + " is not the descriptor sd_pair_prepare put there") }
        wanted[k].revents = fds![k].revents
    }
    if let r = session.step(now: now) { return h.finished(r) }
    return 0
}

@_cdecl("sd_pair_cancel")
public func sd_pair_cancel(_ p: OpaquePointer?) { handle(p)?.agent.cancel() }

@_cdecl("sd_pair_now")
public func sd_pair_now() -> UInt64 { PairingSession.now() }

@_cdecl("sd_pair_message")
public func sd_pair_message(_ p: OpaquePointer?) -> UnsafePointer<CChar>? {
    guard let h = handle(p) else { return nil }
    return UnsafePointer(h.message)
}

@_cdecl("sd_pair_listening")
public func sd_pair_listening(_ p: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guard let h = handle(p) else { return -1 }
    let addresses = h.agent.listeningAddresses
    guard index >= 0, index < addresses.count else { return -1 }
    return copy(addresses[index], into: out, size)
}

@_cdecl("sd_pair_paired")
public func sd_pair_paired(
    _ p: OpaquePointer?, _ id: UnsafeMutablePointer<CChar>?, _ idSize: Int, _ name: UnsafeMutablePointer<CChar>?, _ nameSize: Int
) -> Int32 {
    guard let h = handle(p) else { return -1 }
    guard case .paired(let deviceID, let deviceName)? = h.result else { return h.fail(-7, "the last pairing did not pair") }
    let a = copy(deviceID, into: id, idSize)
    let b = copy(deviceName, into: name, nameSize)
    return a < 0 || b < 0 ? -6 : 0
}

@_cdecl("sd_pair_device_id")
public func sd_pair_device_id(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guard let h = handle(p) else { return -1 }
    return copy(h.agent.deviceID, into: out, size)
}

@_cdecl("sd_pair_peer_id")
public func sd_pair_peer_id(_ p: OpaquePointer?, _ out: UnsafeMutablePointer<CChar>?, _ size: Int) -> Int32 {
    guard let h = handle(p) else { return -1 }
    return copy(h.agent.peerID, into: out, size)
}
