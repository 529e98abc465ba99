import CSupport
import Discovery
import EventLoop
import Transport
import Wire

/// Asks the home router to forward a public TCP port to our listener while a window is open, so that a device on
/// another network can dial the board: NAT-PMP first (RFC 6886; one UDP exchange on the LAN, on the poll loop), and
/// UPnP IGD when NAT-PMP has not answered within `upnpAfterMilliseconds` (through miniupnpc's `upnpc` in a child
/// process: see `UPnPOutput` for why). The mapping's lease covers the window; `release` removes it when the window
/// closes (NAT-PMP mappings, granted for `natpmpLifetime`, are renewed at half their lifetime until then).
final class PortMapper {
    /// False while NAT-PMP or UPnP may still answer; then `mapped` (if anything was) and `line` hold the outcome.
    private(set) var decided = false
    private(set) var mapped: Multiaddr? = nil
    /// The reachability line: the address and how it was mapped, or why nothing is mapped.
    private(set) var line = ""
    let gateway: FixedBytes<4>
    let local: FixedBytes<4>
    let port: UInt16
    let leaseSeconds: UInt32
    let startedAt: UInt64
    private var udp: Int32
    private var natpmp: NATPMPClient
    private var upnpPid: Int32 = 0
    private var upnpFd: Int32 = -1
    private var upnp = UPnPOutput()
    private var upnpTried = false
    private var upnpMissing = false
    private var upnpMapped = false

    static let natpmpLifetime: UInt32 = 120
    static let upnpAfterMilliseconds: UInt64 = 750
    /// A `upnpc` that has not finished by then is stopped (its discovery alone waits 2 s).
    static let upnpTimeoutMilliseconds: UInt64 = 10_000

    /// Nil when there is no default IPv4 gateway (nothing to ask) or no socket.
    init?(port: UInt16, leaseSeconds: UInt32, now: UInt64) {
        var gw = FixedBytes<4>(), me = FixedBytes<4>()
        let found = gw.withUnsafeMutableBytes { sd_default_gateway4($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        guard found == 0 else { return nil }
        let fd = gw.withUnsafeBytes { g in
            me.withUnsafeMutableBytes { m in
                sd_udp_connect4(g.baseAddress!.assumingMemoryBound(to: UInt8.self), 5351, m.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard fd >= 0 else { return nil }
        gateway = gw
        local = me
        udp = fd
        self.port = port
        self.leaseSeconds = leaseSeconds
        startedAt = now
        natpmp = NATPMPClient(internalPort: port, lifetimeSeconds: Self.natpmpLifetime, now: now)
    }

    deinit {
        if udp >= 0 { Net.close(udp) }
        stopUPnP()
    }

    var gatewayText: String { Multiaddr(host: .ip4(gateway), port: 0).hostText }
    var localText: String { Multiaddr(host: .ip4(local), port: 0).hostText }

    var nextDeadline: UInt64? {
        var next = natpmp.phase == .finished || isFailed ? UInt64.max : natpmp.deadline
        if !decided, !upnpTried { next = min(next, startedAt + Self.upnpAfterMilliseconds) }
        if upnpFd >= 0 { next = min(next, startedAt + Self.upnpAfterMilliseconds + Self.upnpTimeoutMilliseconds) }
        return next == .max ? nil : next
    }

    var isFailed: Bool { if case .failed = natpmp.phase { true } else { false } }

    func register(into set: inout PollSet) {
        udpSlot = udp >= 0 ? set.add(udp, readable: true, writable: false) : nil
        upnpSlot = upnpFd >= 0 ? set.add(upnpFd, readable: true, writable: false) : nil
    }
    private var udpSlot: Int? = nil
    private var upnpSlot: Int? = nil

    func dispatch(_ set: PollSet, now: UInt64) {
        if let slot = udpSlot, set.isReadable(slot) {
            var datagram = FixedBytes<16>()
            for _ in 0..<4 {
                let n = datagram.withUnsafeMutableBytes { sd_read(udp, $0.baseAddress, 16) }
                if n == -Int(ECONNREFUSED) { natpmp.refused() }
                guard n > 0 else { break }
                datagram.withUnsafeBytes { natpmp.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n]), now: now) }
            }
        }
        if let slot = upnpSlot, set.isReadable(slot) {
            var chunk = FixedBytes<256>()
            for _ in 0..<16 {
                let n = chunk.withUnsafeMutableBytes { sd_read(upnpFd, $0.baseAddress, 256) }
                if n == 0 {
                    // The child closed its output: it has exited, and the kernel may already have reaped it and
                    // given its PID to another process. Forget the PID rather than signal it.
                    upnpPid = 0
                    upnp.finish()
                    stopUPnP()
                    break
                }
                guard n > 0 else { break }
                chunk.withUnsafeBytes { upnp.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            }
        }
        tick(now)
    }

    func tick(_ now: UInt64) {
        var out = FixedBytes<12>()
        if let n = natpmp.datagram(now: now, into: &out) {
            _ = out.withUnsafeBytes { sd_write(udp, $0.baseAddress, n) }
        }
        if !decided, !upnpTried, now >= startedAt + Self.upnpAfterMilliseconds, natpmp.phase != .mapped {
            startUPnP()
        }
        if upnpFd >= 0, now >= startedAt + Self.upnpAfterMilliseconds + Self.upnpTimeoutMilliseconds {
            upnp.finish()
            stopUPnP()
        }
        decide()
    }

    /// The first success wins; without one, the verdict waits for both to end and names the most telling reason.
    private func decide() {
        guard !decided else { return }
        let router = "the router " + gatewayText
        var address: Multiaddr? = nil
        if natpmp.phase == .mapped {
            stopUPnP()
            address = Multiaddr(host: .ip4(natpmp.publicAddress), port: natpmp.externalPort)
        } else if upnp.externalPort != 0, let a = upnp.externalAddress {
            upnpMapped = true
            address = Multiaddr(host: .ip4(a), port: upnp.externalPort)
        }
        if let address {
            mapped = address
            line = "reachable from outside at " + address.text + " (" + (upnpMapped ? "UPnP" : "NAT-PMP") + " on " + router + ", until the window closes)"
            decided = true
            return
        }
        guard upnpTried, upnpFd < 0, natpmp.phase != .askingAddress, natpmp.phase != .mapping else { return }
        decided = true
        line = "not reachable from outside: "
        if natpmp.phase == .failed(.noPublicAddress) || upnp.notConnected {
            line += router + " has no public address of its own (double NAT, or carrier-grade NAT at the provider)"
        } else if case .failed(.refused(let code)) = natpmp.phase {
            line += router + " refused the NAT-PMP mapping (result " + String(code) + ")"
        } else {
            line += "neither NAT-PMP nor UPnP answered on " + router + (upnpMissing ? " (UPnP not tried: install miniupnpc)" : "")
                + "; turn one of them on, or forward TCP port " + String(port) + " to " + localText
        }
    }

    private func startUPnP() {
        upnpTried = true
        var fd: Int32 = -1
        let pid = local.withUnsafeBytes { sd_upnpc(1, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), port, leaseSeconds, &fd) }
        if pid <= 0 {
            upnpMissing = pid == -ENOENT
            return
        }
        upnpPid = pid
        upnpFd = fd
    }

    private func stopUPnP() {
        if upnpFd >= 0 { Net.close(upnpFd) }
        upnpFd = -1
        if upnpPid > 0 { sd_kill(upnpPid) }  // still holds our pipe open, so still ours: stop it
        upnpPid = 0
    }

    /// The window closed: remove the mapping. NAT-PMP: one deletion request now (a LAN datagram; the lifetime
    /// bounds it anyway). UPnP: `upnpc -d` in a child that may outlive us; it is short and reaped by the kernel.
    func release(now: UInt64) {
        stopUPnP()
        if natpmp.phase == .mapped || natpmp.phase == .mapping {
            natpmp.release(now: now)
            var out = FixedBytes<12>()
            if let n = natpmp.datagram(now: now, into: &out) { _ = out.withUnsafeBytes { sd_write(udp, $0.baseAddress, n) } }
        }
        if upnpMapped { _ = local.withUnsafeBytes { sd_upnpc(0, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), upnp.externalPort, 0, nil) } }
        Net.close(udp)
        udp = -1
    }

}
