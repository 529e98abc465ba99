import Agent
import CSupport
import Crypto
import Discovery
import EventLoop
import Registry
import Transport
import Wire

/// `sd-pair doctor`: why pairing might not work here, for an operator on SSH with no other tools. Read-only (it
/// creates nothing, changes no rule), bounded in time (about 10 s at most), one line per check with PASS, WARN or
/// FAIL and, for each WARN and FAIL, the fix in one sentence; `--json` for a web UI. Exit 0: no check failed (WARNs
/// are advice); 1: a check failed; 2: usage. The checks block (a one-shot command, not the agent's loop), each with
/// its own bound.
enum DoctorCommand {
    enum Verdict {
        case pass, warn, fail

        var label: String { self == .pass ? "PASS" : self == .warn ? "WARN" : "FAIL" }
        var json: String { self == .pass ? "pass" : self == .warn ? "warn" : "fail" }
    }

    struct Check {
        var name: String
        var verdict: Verdict
        var detail: String
        var fix: String = ""
    }

    /// Dates before this are a clock that was never set (this version did not exist yet).
    static let builtAfter: Int64 = 1_796_083_200  // 2026-12-01T00:00:00Z

    static func run(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(
            &args, command: "doctor", valued: ["--state-dir", "--listen", "--dht-bootstrap", "--dht-protocol", "--dht-records"],
            switches: ["--json", "--no-mdns", "--no-dht"], config: true)
        {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        guard options.positionals.isEmpty else { return .failure(UsageError("doctor: unexpected argument '" + options.positionals[0] + "'")) }
        var port: UInt16 = 0
        for text in options.all("--listen") {
            switch NetworkCommands.parseAddress(text, command: "doctor", option: "--listen") {
            case .success(let a): port = port == 0 ? a.port : port
            case .failure(let e): return .failure(e)
            }
        }
        var bootstrap: [Multiaddr] = []
        if !options.has("--no-dht") {
            for text in options.all("--dht-bootstrap") {
                switch NetworkCommands.parseAddress(text, command: "doctor", option: "--dht-bootstrap") {
                case .success(let a): bootstrap.append(a)
                case .failure(let e): return .failure(e)
                }
            }
        }
        let directory = NetworkCommands.stateDirectory(options)
        let started = sd_monotonic_ms()
        var checks: [Check] = [clock()]
        checks += stateDirectory(directory)
        checks.append(daemon(directory))
        if !options.has("--no-mdns") { checks.append(avahi()) }
        let found = NetworkInterface.all()
        checks += interfaces(found)
        checks += firewall(port: port, mdns: !options.has("--no-mdns"))
        checks += listenPort(port, found)
        checks += dht(bootstrap, until: started + 10_000)
        report(checks, json: options.has("--json"))
        return .success(checks.contains { $0.verdict == .fail } ? .pairingFailed : .success)
    }

    static func report(_ checks: [Check], json: Bool) {
        guard json else {
            for c in checks {
                Output.line(c.verdict.label + "  " + c.name + ": " + c.detail)
                if !c.fix.isEmpty { Output.line("      fix: " + c.fix) }
            }
            return
        }
        var out = "{\"checks\":["
        for (k, c) in checks.enumerated() {
            out += (k > 0 ? "," : "") + "{\"check\":" + JSON.string(c.name) + ",\"result\":\"" + c.verdict.json + "\",\"detail\":"
                + JSON.string(c.detail) + (c.fix.isEmpty ? "" : ",\"fix\":" + JSON.string(c.fix)) + "}"
        }
        let worst = checks.contains { $0.verdict == .fail } ? "fail" : checks.contains { $0.verdict == .warn } ? "warn" : "pass"
        Output.line(out + "],\"result\":\"" + worst + "\"}")
    }

    // MARK: Checks

    /// Signed records (the DHT's IPNS records, the advertisement's end) carry wall-clock times; a board without a
    /// real-time clock starts in 1970 (or at its image's date) until NTP has synced.
    static func clock() -> Check {
        let now = sd_unix_time()
        let shown = RegistryCommands.utc(now)
        if now < builtAfter {
            return Check(name: "clock", verdict: .fail, detail: "the clock says " + shown + ", before this version was made: it has not been set",
                         fix: "set the time or wait for NTP (timedatectl shows whether it is synchronized); the DHT refuses records with wrong times")
        }
        return Check(name: "clock", verdict: .pass, detail: shown)
    }

    static func stateDirectory(_ directory: String) -> [Check] {
        var owner: UInt32 = 0
        let rc = directory.withCString { sd_check_state_dir($0, &owner) }
        if rc == -ENOENT {
            return [Check(name: "state directory", verdict: .pass, detail: directory + " does not exist yet (the first invite, serve or join makes it and the identity)")]
        }
        guard rc == 0 else {
            return [Check(name: "state directory", verdict: .fail, detail: StateDirectory.problem(directory, -rc),
                          fix: "make it private to the agent's user: chmod 700 " + directory + ", owned by that user")]
        }
        var out = [Check(name: "state directory", verdict: .pass, detail: directory)]
        switch DeviceIdentity.load(stateDirectory: directory) {
        case .success(nil):
            out.append(Check(name: "identity", verdict: .pass, detail: "none yet (made on first use)"))
        case .success(var identity?):
            let mode = (directory + "/identity").withCString { sd_file_mode($0) }
            let peer = PeerID(publicKey: identity.keys.publicKey).text
            identity.keys.wipe()
            if mode >= 0 && mode & 0o077 != 0 {
                out.append(Check(name: "identity", verdict: .fail, detail: "the identity file can be read by other users (mode " + octal(mode) + ")",
                                 fix: "chmod 600 " + directory + "/identity (its key is this device's identity)"))
            } else {
                out.append(Check(name: "identity", verdict: .pass, detail: peer))
            }
        case .failure(let e):
            out.append(Check(name: "identity", verdict: .fail, detail: e.message, fix: "restore the file from a backup, or move it away to start over"))
        }
        switch DeviceRegistry(directory: directory).load() {
        case .success(var list):
            out.append(Check(name: "registry", verdict: .pass, detail: String(list.count) + " paired device(s)"))
            for i in list.indices { list[i].wipe() }
        case .failure(let f):
            out.append(Check(name: "registry", verdict: .fail, detail: f.message, fix: "restore the devices file from a backup, or move it away (its devices must pair again)"))
        }
        return out
    }

    static func octal(_ mode: Int32) -> String {
        String(decoding: [UInt8(0x30 + (mode >> 6) & 7), UInt8(0x30 + (mode >> 3) & 7), UInt8(0x30 + mode & 7)], as: UTF8.self)
    }

    /// `serve` on this state directory, over its control socket: running, and whether a window is open.
    static func daemon(_ directory: String) -> Check {
        let path = InviteClient.socketPath(stateDirectory: directory)
        guard case .success(let fd) = Net.connectLocal(path: path) else {
            return Check(name: "serve", verdict: .pass, detail: "not running on " + directory + " (invite and join work without it)")
        }
        defer { Net.close(fd) }
        let request = ControlProtocol.encode(.status)
        _ = Net.write(fd, UnsafeRawBufferPointer(start: request.utf8Start, count: request.utf8CodeUnitCount))
        var reply = FixedBytes<64>()
        let n = reply.withUnsafeMutableBytes { read(fd, into: $0, within: 1000, line: true) }
        let line = reply.withUnsafeBytes { ControlProtocol.reply(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        guard let line, line.verb == .status else {
            return Check(name: "serve", verdict: .warn, detail: "the control socket " + path + " did not answer", fix: "restart the service: systemctl restart sd-pair")
        }
        return Check(name: "serve", verdict: .pass, detail: "running; " + (line.text.startsWithExactly("open") ? "a pairing window is open" : "no window open"))
    }

    /// Reads until the end of input (or with `line`, a newline), the buffer's end or `milliseconds`; returns the
    /// bytes read (before the newline).
    static func read(_ fd: Int32, into out: UnsafeMutableRawBufferPointer, within milliseconds: Int32, line: Bool) -> Int {
        var count = 0
        let deadline = sd_monotonic_ms() + UInt64(milliseconds)
        while count < out.count && sd_monotonic_ms() < deadline {
            var set = PollSet()
            guard let slot = set.add(fd, readable: true, writable: false) else { break }
            _ = set.wait(timeoutMilliseconds: Int32(deadline - sd_monotonic_ms()))
            guard set.isReadable(slot) else { continue }
            guard case .bytes(let n) = Net.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: out[count...])) else { break }
            for k in count..<(count + n) where line && out[k] == 0x0A { return k }
            count += n
        }
        return count
    }

    static func avahi() -> Check {
        let (state, text) = MDNS.probe()
        switch state {
        case .running: return Check(name: "avahi", verdict: .pass, detail: "avahi-daemon is running as " + text)
        case .collision: return Check(name: "avahi", verdict: .warn, detail: "avahi-daemon's host name " + text + " collides with another device's",
                                      fix: "give this device a unique host name (hostnamectl set-hostname …)")
        case .starting: return Check(name: "avahi", verdict: .warn, detail: "avahi-daemon is still registering its host name", fix: "run doctor again in a few seconds")
        case .noDaemon: return Check(name: "avahi", verdict: .fail, detail: "avahi-daemon is not running (" + text + "): devices on the LAN cannot find this one",
                                     fix: "systemctl enable --now avahi-daemon (package avahi-daemon)")
        case .noBus: return Check(name: "avahi", verdict: .fail, detail: "cannot reach the D-Bus system bus (" + text + ")",
                                  fix: "systemctl start dbus; in a container, give it the host's /run/dbus/system_bus_socket")
        }
    }

    /// Each interface with its addresses; the ones a joiner on the LAN cannot use say why.
    static func interfaces(_ found: [NetworkInterface]) -> [Check] {
        var out: [Check] = []
        var usable = 0
        for i in found where !i.isLoopback {  // loopback: nothing to say
            let why: String? =
                !i.isUp ? "down"
                : !i.canMulticast ? "no multicast, so no mDNS"
                : isContainer(i.name) ? "a container or virtual bridge: devices on the LAN cannot reach it"
                : isTunnel(i.name) ? "a VPN tunnel: devices on the LAN do not see it"
                : !i.hasRoutableAddress ? "link-local addresses only (no DHCP answer?)" : nil
            if let why {
                out.append(Check(name: "interface " + i.name, verdict: .warn, detail: i.addresses + ": " + why, fix: "nothing to do if the LAN is on another interface"))
            } else {
                usable += 1
                out.append(Check(name: "interface " + i.name, verdict: .pass, detail: i.addresses + " (multicast)"))
            }
        }
        if usable == 0 {
            out.append(Check(name: "network", verdict: .fail, detail: "no interface is up with multicast and a routable address: no other device can find or reach this one",
                             fix: "connect the network (cable, Wi-Fi) and check that DHCP gave an address (ip addr)"))
        }
        return out
    }

    static func isContainer(_ name: String) -> Bool {
        let prefixes: [StaticString] = ["docker", "br-", "virbr", "cni", "flannel", "podman", "lxc", "lxd"]
        return prefixes.contains { name.startsWithExactly($0) }
    }

    static func isTunnel(_ name: String) -> Bool { name.startsWithExactly("tun") || name.startsWithExactly("wg") || name.startsWithExactly("tailscale") }

    /// Firewall rules that drop mDNS or the listening port, read from `nft list ruleset` (iptables on Debian 12 is
    /// iptables-nft, whose rules are there too). Read only; needs root.
    static func firewall(port: UInt16, mdns: Bool) -> [Check] {
        guard sd_euid() == 0 else {
            return [Check(name: "firewall", verdict: .warn, detail: "cannot read the firewall rules (not root)", fix: "run doctor as root to check them")]
        }
        var text = [UInt8](repeating: 0, count: 64 * 1024)
        var fd: Int32 = -1
        guard sd_spawn_nft(&fd) > 0 else { return [Check(name: "firewall", verdict: .pass, detail: "no nftables (nft) on this host")] }
        defer { Net.close(fd) }
        let count = text.withUnsafeMutableBytes { read(fd, into: $0, within: 2000, line: false) }
        var out: [Check] = []
        if mdns { out.append(rule(text, count, "udp", 5353, name: "firewall mDNS", what: "mDNS (UDP 5353)")) }
        if port != 0 { out.append(rule(text, count, "tcp", port, name: "firewall port", what: "the listening port (TCP " + String(port) + ")")) }
        return out
    }

    static func rule(_ text: [UInt8], _ count: Int, _ proto: StaticString, _ port: UInt16, name: String, what: String) -> Check {
        var line = [CChar](repeating: 0, count: 256)
        let verdict = text.withUnsafeBufferPointer { t in
            line.withUnsafeMutableBufferPointer { l in
                sd_firewall_verdict(UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self), count, UnsafeRawPointer(proto.utf8Start).assumingMemoryBound(to: CChar.self), UInt32(port), l.baseAddress, 256)
            }
        }
        let fix = "allow it: nft add rule inet filter input " + Options.text(proto) + " dport " + String(port) + " accept"
        switch verdict {
        case 1: return Check(name: name, verdict: .fail, detail: "a rule drops " + what + ": " + line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, fix: fix)
        case 2: return Check(name: name, verdict: .fail, detail: "the input chain drops by default and no rule accepts " + what, fix: fix)
        default: return Check(name: name, verdict: .pass, detail: what + " is not dropped")
        }
    }

    /// Whether `port` answers on each usable IPv4 address of this host (a connection to ourselves: it shows
    /// rules that drop or reject the port for everyone; rules tied to an input interface do not apply to it).
    static func listenPort(_ port: UInt16, _ found: [NetworkInterface]) -> [Check] {
        guard port != 0 else {
            return [Check(name: "listen port", verdict: .pass, detail: "a new random port each window (fix one with listen = /ip4/0.0.0.0/tcp/4001 to allow or forward it)")]
        }
        // Nobody listening yet (no serve): listen for the length of the check, so that a connection can complete.
        var own: Int32 = -1
        if case .success(let (fd, _)) = Net.listen(host: "0.0.0.0", port: port) { own = fd }
        defer { Net.close(own) }
        var failures = ""
        var tried = ""
        for i in found where !i.isLoopback {
            // The interface's first address, if IPv4 (getifaddrs lists IPv4 first).
            let first = i.addresses.utf8.prefix { $0 != 0x20 }
            guard first.contains(0x2E), !first.contains(0x3A) else { continue }
            let ip = String(decoding: first, as: UTF8.self)
            tried += (tried.isEmpty ? "" : ", ") + ip
            let error = ip.withCString { sd_connect_check($0, port, 500) }
            if error != 0 { failures += (failures.isEmpty ? " " : "; ") + ip + ": " + (error == ETIMEDOUT ? "no answer in 0.5 s" : SystemError(error).name) }
        }
        if tried.isEmpty { return [] }
        guard failures.isEmpty else {
            return [Check(name: "listen port", verdict: .fail, detail: "TCP " + String(port) + " does not answer on" + failures,
                          fix: "allow the port in the firewall (see the firewall lines), or use one that is allowed")]
        }
        return [Check(name: "listen port", verdict: .pass, detail: "TCP " + String(port) + " answers on " + tried + (own >= 0 ? " (checked with a listener of doctor's own)" : ""))]
    }

    /// Each DHT bootstrap peer (the first two): connect, Noise (its identity proved), yamux, a libp2p ping, timed;
    /// 3 s each at most, and none begun with less than that left before `deadline` (the whole run's 10 s).
    static func dht(_ bootstrap: [Multiaddr], until deadline: UInt64) -> [Check] {
        var out: [Check] = []
        var rng = SystemRandom()
        var keys = Ed25519.KeyPair.generate(using: &rng)
        defer { keys.wipe() }
        for peer in bootstrap.prefix(2) {
            let start = sd_monotonic_ms()
            guard start + 3000 <= deadline else {
                out.append(Check(name: "DHT peer", verdict: .warn, detail: peer.text + ": not checked (doctor's 10 s were used up)", fix: "run doctor again"))
                continue
            }
            let node = Node(identity: keys, task: .ping(peer: peer, count: 1), handshakeTimeoutMilliseconds: 3000, say: { _ in }, log: { _ in })
            let outcome = node.run(signals: nil)
            let ms = String(sd_monotonic_ms() - start) + " ms"
            switch outcome {
            case .pinged: out.append(Check(name: "DHT peer", verdict: .pass, detail: peer.text + " answered in " + ms + " (its identity proved by Noise)"))
            case .failed(let why) where why.isExactly("the peer does not answer ping"):
                out.append(Check(name: "DHT peer", verdict: .pass, detail: peer.text + " reached in " + ms + " (its identity proved by Noise)"))
            case .failed(let why):
                out.append(Check(name: "DHT peer", verdict: .fail, detail: peer.text + ": " + why + " (" + ms + ")",
                                 fix: "check the internet connection and outgoing TCP; if the peer moved, set another dht-bootstrap (an Ed25519 DHT server)"))
            default: break
            }
        }
        return out
    }
}
