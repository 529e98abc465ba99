import CAvahi
import CSupport
import EventLoop

/// Our `AvahiPoll`: Avahi's abstract main loop, implemented on the agent's single `poll()` loop instead of
/// `avahi_simple_poll` or a threaded poll. Avahi asks for watches (an fd and the events it wants) and timeouts
/// (an absolute wall-clock time); the agent adds the watches to its `PollSet`, bounds its wait by the earliest
/// timeout, and calls `dispatch` after the wait.
///
/// Both tables are fixed: Avahi's client needs one watch (its D-Bus socket) and a handful of timeouts; a request
/// beyond the table fails the Avahi call (the library reports an error) rather than growing memory.
///
/// Avahi frees and creates watches and timeouts from inside the callbacks we make, so `free` only marks an entry
/// dead and the table is swept after dispatch; an entry created during dispatch waits for the next round.
public final class AvahiLoop {
    /// Avahi's client uses one watch per D-Bus connection; 8 leaves room for the library's own changes.
    static let watchCapacity = 8
    /// The client arms a few timeouts (D-Bus pending calls, reconnection); 16 is well above what was observed.
    static let timeoutCapacity = 16

    struct Watch {
        var state = EntryState.free
        var fd: Int32 = -1
        var events: AvahiWatchEvent = AvahiWatchEvent(0)
        var revents: AvahiWatchEvent = AvahiWatchEvent(0)
        var callback: AvahiWatchCallback? = nil
        var userdata: UnsafeMutableRawPointer? = nil
        /// This round's PollSet slot, or -1 (not polled this round).
        var slot = -1
    }

    struct Timeout {
        var state = EntryState.free
        /// Monotonic milliseconds; nil while disarmed.
        var deadline: UInt64? = nil
        var callback: AvahiTimeoutCallback? = nil
        var userdata: UnsafeMutableRawPointer? = nil
    }

    enum EntryState { case free, live, dead }

    /// Both tables are allocated once; a handle given to Avahi is the address of its entry, so the entry points
    /// that carry no `api` (update, free) find their entry without any global state.
    private let watches: UnsafeMutablePointer<Watch>
    private let timeouts: UnsafeMutablePointer<Timeout>
    /// The vtable handed to Avahi; its `userdata` points back to this object.
    public let api: UnsafeMutablePointer<AvahiPoll>

    public init() {
        watches = UnsafeMutablePointer<Watch>.allocate(capacity: Self.watchCapacity)
        watches.initialize(repeating: Watch(), count: Self.watchCapacity)
        timeouts = UnsafeMutablePointer<Timeout>.allocate(capacity: Self.timeoutCapacity)
        timeouts.initialize(repeating: Timeout(), count: Self.timeoutCapacity)
        api = UnsafeMutablePointer<AvahiPoll>.allocate(capacity: 1)
        api.initialize(to: AvahiPoll(
            userdata: nil,
            watch_new: { api, fd, event, callback, userdata in
                AvahiLoop.of(api)?.watchNew(fd, event, callback, userdata)
            },
            watch_update: { handle, event in
                guard let w = AvahiLoop.watch(handle), w.pointee.state == .live else { return }
                w.pointee.events = event
            },
            watch_get_events: { handle in
                guard let w = AvahiLoop.watch(handle), w.pointee.state == .live else { return AvahiWatchEvent(0) }
                return w.pointee.revents
            },
            watch_free: { handle in AvahiLoop.watch(handle)?.pointee.state = .dead },
            timeout_new: { api, tv, callback, userdata in
                AvahiLoop.of(api)?.timeoutNew(tv, callback, userdata)
            },
            timeout_update: { handle, tv in
                guard let t = AvahiLoop.timeout(handle), t.pointee.state == .live else { return }
                t.pointee.deadline = AvahiLoop.deadline(tv)
            },
            timeout_free: { handle in AvahiLoop.timeout(handle)?.pointee.state = .dead }))
        api.pointee.userdata = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        api.deinitialize(count: 1)
        api.deallocate()
        watches.deinitialize(count: Self.watchCapacity)
        watches.deallocate()
        timeouts.deinitialize(count: Self.timeoutCapacity)
        timeouts.deallocate()
    }

    static func of(_ api: UnsafePointer<AvahiPoll>?) -> AvahiLoop? {
        guard let raw = api?.pointee.userdata else { return nil }
        return Unmanaged<AvahiLoop>.fromOpaque(raw).takeUnretainedValue()
    }

    static func watch(_ handle: OpaquePointer?) -> UnsafeMutablePointer<Watch>? { handle.map { UnsafeMutablePointer<Watch>($0) } }
    static func timeout(_ handle: OpaquePointer?) -> UnsafeMutablePointer<Timeout>? { handle.map { UnsafeMutablePointer<Timeout>($0) } }

    func watchNew(_ fd: Int32, _ event: AvahiWatchEvent, _ callback: AvahiWatchCallback?, _ userdata: UnsafeMutableRawPointer?) -> OpaquePointer? {
        for i in 0..<Self.watchCapacity where watches[i].state == .free {
            watches[i] = Watch(state: .live, fd: fd, events: event, callback: callback, userdata: userdata)
            return OpaquePointer(watches + i)
        }
        return nil
    }

    /// Avahi gives absolute wall-clock times (it computes them with gettimeofday); the loop runs on the monotonic
    /// clock, so translate once, when the timeout is set.
    static func deadline(_ tv: UnsafePointer<timeval>?) -> UInt64? {
        guard let tv else { return nil }  // NULL: created disarmed
        let at = UInt64(max(0, Int64(tv.pointee.tv_sec))) * 1000 + UInt64(max(0, Int64(tv.pointee.tv_usec))) / 1000
        let wall = sd_realtime_ms()
        let now = sd_monotonic_ms()
        return at > wall ? now + (at - wall) : now
    }

    func timeoutNew(_ tv: UnsafePointer<timeval>?, _ callback: AvahiTimeoutCallback?, _ userdata: UnsafeMutableRawPointer?) -> OpaquePointer? {
        for i in 0..<Self.timeoutCapacity where timeouts[i].state == .free {
            timeouts[i] = Timeout(state: .live, deadline: Self.deadline(tv), callback: callback, userdata: userdata)
            return OpaquePointer(timeouts + i)
        }
        return nil
    }

    // MARK: Driving it from the agent's loop

    /// Adds every live watch to this round's poll set.
    public func register(into set: inout PollSet) {
        for i in 0..<Self.watchCapacity {
            watches[i].slot = -1
            guard watches[i].state == .live else { continue }
            let events = watches[i].events.rawValue
            let readable = events & UInt32(POLLIN) != 0
            let writable = events & UInt32(POLLOUT) != 0
            watches[i].slot = set.add(watches[i].fd, readable: readable, writable: writable) ?? -1
        }
    }

    /// The earliest armed timeout, if any (monotonic milliseconds).
    public var nextDeadline: UInt64? {
        var next: UInt64? = nil
        for i in 0..<Self.timeoutCapacity where timeouts[i].state == .live {
            if let d = timeouts[i].deadline { next = min(next ?? d, d) }
        }
        return next
    }

    /// Calls Avahi back for what happened this round: ready watches first, then due timeouts.
    public func dispatch(_ set: PollSet, now: UInt64) {
        for i in 0..<Self.watchCapacity where watches[i].state == .live && watches[i].slot >= 0 {
            var revents: UInt32 = 0
            if set.isReadable(watches[i].slot) { revents |= UInt32(POLLIN) }
            if set.isWritable(watches[i].slot) && watches[i].events.rawValue & UInt32(POLLOUT) != 0 { revents |= UInt32(POLLOUT) }
            if set.hasError(watches[i].slot) { revents |= UInt32(POLLERR) }
            guard revents != 0, let callback = watches[i].callback else { continue }
            watches[i].revents = AvahiWatchEvent(revents)
            callback(OpaquePointer(watches + i), watches[i].fd, AvahiWatchEvent(revents), watches[i].userdata)
            if watches[i].state == .live { watches[i].revents = AvahiWatchEvent(0) }
        }
        for i in 0..<Self.timeoutCapacity where timeouts[i].state == .live {
            guard let due = timeouts[i].deadline, due <= now, let callback = timeouts[i].callback else { continue }
            // A timeout fires once; the library re-arms it with timeout_update if it wants more.
            timeouts[i].deadline = nil
            callback(OpaquePointer(timeouts + i), timeouts[i].userdata)
        }
        sweep()
    }

    /// Frees the entries Avahi released during this round.
    func sweep() {
        for i in 0..<Self.watchCapacity where watches[i].state == .dead { watches[i] = Watch() }
        for i in 0..<Self.timeoutCapacity where timeouts[i].state == .dead { timeouts[i] = Timeout() }
    }

    /// How many entries are in use (tests: nothing accumulates across client restarts).
    public var liveCount: (watches: Int, timeouts: Int) {
        var w = 0, t = 0
        for i in 0..<Self.watchCapacity where watches[i].state != .free { w += 1 }
        for i in 0..<Self.timeoutCapacity where timeouts[i].state != .free { t += 1 }
        return (w, t)
    }
}
