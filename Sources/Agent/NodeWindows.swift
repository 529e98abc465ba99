import CSupport
import Crypto
import Discovery
import EventLoop
import Pairing
import Registry
import Transport
import Wire

/// Daemon mode: pairing windows opened on request (SIGUSR1, the control socket) and closed without ending the run.
extension Node {
    // MARK: Pairing windows (daemon mode)

    /// SIGUSR1 or a control client's `invite`: opens a new window unless one is open. Returns its words (the caller
    /// wipes them) and lifetime.
    func requestWindow() -> (words: CodeWords, expiry: UInt32)? {
        guard daemon, case .serve(let current, let echo) = task else { return nil }
        if current != nil {
            log("a pairing window is already open")
            return nil
        }
        guard let opened = openWindow?() else { return nil }
        task = .serve(window: opened.window, echo: echo)
        advertise(opened.window)
        return (opened.words, opened.window.policy.expirySeconds)
    }

    var openWindowDeadline: UInt64? {
        if case .serve(let window?, _) = task { return window.deadline.milliseconds }
        return nil
    }

    /// Carries out the control socket's requests (`ControlProtocol.answer` decides); cancels the window whose
    /// `invite` client hung up.
    func answer(_ control: ControlServer, now: UInt64) {
        while let (client, request) = control.nextRequest() {
            switch ControlProtocol.answer(request, windowDeadline: openWindowDeadline, now: now) {
            case .reply(let reply):
                control.reply(client, reply, close: true)
            case .openWindow:
                guard var opened = requestWindow() else {
                    control.reply(client, ControlProtocol.cannotOpen, close: true)
                    continue
                }
                // As ControlProtocol.encode would write them, but in fixed storage (the words are secret).
                var line = SecretLine()
                line.append("code ")
                line.append(opened.words)
                line.appendText("\nexpires " + String(opened.expiry) + "\n")
                line.withUnsafeBytes { control.reply(client, bytes: $0, close: false) }
                line.wipe()
                opened.words.wipe()
                control.follow(client)
            }
        }
        if control.takeFollowerLeft() {
            if case .serve(var window?, let echo) = task {
                log("the invite that asked for this window has gone; closing the window")
                window.cancel()
                task = .serve(window: window, echo: echo)
                finish(.failed("cancelled"))
            }
        }
    }

    /// Publishes the open window where joiners look for it.
    func advertise(_ window: InitiatorWindow<SystemRandom>) {
        advertiseOnDHT(window, now: now)
        guard let discovery, advertisedPort != 0 else { return }
        // Every address of ours on the service's port, in the TXT record: Avahi hands a joiner only one per protocol.
        var hosts: [Multiaddr.Host] = []
        for l in listening where l.port == advertisedPort {
            for a in Self.dialableAddresses(Multiaddr(host: l.host, port: l.port)) where !a.host.isUnspecified { hosts.append(a.host) }
        }
        discovery.publish(name: window.localDevice.name.string, port: advertisedPort, text: ServiceText(sessionID: window.sessionID, peer: peerID, hosts: hosts))
    }

    /// A window ended while the daemon goes on: say how, forget its half-done handshakes (their state belongs to
    /// the old window), and serve without a window until the next one is asked for.
    func endWindow(_ result: NodeOutcome, echo: Bool) {
        if let (line, reply) = RunEnding.windowClosed(result) {
            log(line)
            if let reply { control?.windowClosed(ControlReply(.closed, reply)) }
        }
        events.emit(.windowClosed)
        scrubStack = true
        task = .serve(window: nil, echo: echo)
        discovery?.withdraw()
        stopDHT()
        releasePortMapping(now)
        onWindowClosed?()
        for i in 0..<links.count where !links[i].isFree {
            for s in 0..<4 where links[i].streams[s].handshake != nil {
                links[i].streams[s].handshake = nil
                resetStream(i, s)
            }
        }
    }

    /// Joiner, every few seconds while nothing has paired: what each path has done so far, so that a person
    /// waiting knows whether the device was seen at all.
    func sayProgress(_ session: JoinerSession, _ now: UInt64) {
        let left = session.deadline.milliseconds > now ? (session.deadline.milliseconds - now) / 1000 : 0
        log("still looking (" + String(left) + " s left): " + paths(interfaces: false))
    }

    /// What each discovery path has done: "mDNS: …; DHT: …"; with `interfaces`, where mDNS looked.
    func paths(interfaces: Bool) -> String {
        var mdns = "off"
        if let m = discovery?.mdns {
            mdns = m.isRunning ? String(m.resolvedServices) + " sd-pair device(s) seen, " + String(m.otherSessions) + " showing another code"
                : "avahi-daemon is not reachable"
        }
        let rounds = dht.map {
            $0.schedule.opened != nil ? "found"
                : String($0.schedule.rounds) + " lookup round(s), " + ($0.answers == 0 ? "no DHT peer answered" : String($0.answers) + " answer(s) from DHT peers") + ", no record yet"
        }
        return "mDNS" + (interfaces && discovery?.mdns != nil ? " (on " + Self.multicastInterfaces + ")" : "") + ": " + mdns + "; DHT: "
            + (rounds ?? (dhtSettings == nil ? "off" : "no bootstrap peers"))
    }

    /// The interfaces mDNS can use, by name: where avahi-daemon browsed.
    static var multicastInterfaces: String {
        var names = ""
        for i in NetworkInterface.all() where i.carriesMDNS { names += (names.isEmpty ? "" : ", ") + i.name }
        return names.isEmpty ? "none" : names
    }

    /// The joiner's window ended without a pairing (discovery mode): what each path did, each address tried and why
    /// it failed, and the likely cause — said so that a wrong code and a network problem never look alike. Also one
    /// `summary` event (and so the library's callback).
    func sayFailureSummary() {
        var line = "summary: " + paths(interfaces: true) + "; " + String(triedCount) + " address(es) tried"
        if !tried.isEmpty { line += " (" + (triedCount > tried.count ? "the last " + String(tried.count) + ": " : "") + tried.joined(separator: "; ") + ")" }
        let cause: String
        if reachedDevice {
            cause = "the device answered, but the pairing did not complete (the reasons above)"
        } else if let m = discovery?.mdns, m.otherSessions > 0, m.otherSessions == m.resolvedServices {
            cause = "devices on this network show another code: check the words against the device's display"
        } else {
            cause = "nothing reached the device: run `sd-pair doctor` here and on the device"
        }
        log(line)
        log(cause)
        events.emit(.summary(text: line + "; " + cause))
    }
}
