import Agent
import Discovery
import Pairing
import SDPair
import Wire

/// sd_pair_new's `settings`: the configuration file's syntax and checks (`ConfigText`), for the keys that concern
/// one pairing. The daemon's own keys (display, events, window-at-start, state-dir) are refused by name: a program
/// that embeds the agent shows the code and follows the events itself. Text is compared byte for byte
/// (`isExactly`), as everywhere in the Embedded build: `String ==` would pull in Unicode normalisation tables.
enum Settings {
    /// Applies `text` to `c`; returns what is wrong ("settings line N: …"), or nil.
    static func apply(_ text: String, to c: inout PairingConfiguration) -> String? {
        var text = text
        let parsed = text.withUTF8 { ConfigText.parse(UnsafeRawBufferPointer($0)) }
        let entries: [ConfigText.Entry]
        switch parsed {
        case .failure(let p): return "settings line " + String(p.line) + ": " + p.message
        case .success(let e): entries = e
        }
        var listen: [String] = []
        var noDHT = false
        for entry in entries {
            let key = ConfigText.text(ConfigText.keys[entry.key].name)
            let value = entry.value
            let yes = value.isExactly("true")  // flags: ConfigText let only "true" and "false" through
            if key.isExactly("name") {
                c.deviceName = value
            } else if key.isExactly("device-type") {
                c.deviceType = DeviceType(name: value) ?? .other  // ConfigText let only the five names through
            } else if key.isExactly("listen") {
                listen.append(value)
            } else if key.isExactly("expiry") {
                c.expirySeconds = UInt32(value)!  // ConfigText checked the range
            } else if key.isExactly("max-attempts") {
                c.maxFailedAttempts = Int(value)!
            } else if key.isExactly("handshake-timeout") {
                c.handshakeTimeoutSeconds = Int(value)!
            } else if key.isExactly("no-mdns") {
                c.mdns = !yes
            } else if key.isExactly("no-dht") {
                noDHT = yes
            } else if key.isExactly("no-port-mapping") {
                c.portMapping = !yes
            } else if key.isExactly("dht-bootstrap") {
                c.dhtBootstrap.append(value)
            } else if key.isExactly("dht-protocol") {
                c.dhtProtocol = value
            } else if key.isExactly("dht-records") {
                c.dhtRecords = value.isExactly("sd-pair") ? .sdPair : .ipns
            } else if key.isExactly("relay") {
                c.relays.append(value)
            } else if key.isExactly("code") {
                c.codeMode = value.isExactly("short") ? .short : .words
            } else {
                return "settings line " + String(entry.line) + ": " + key + " is for the sd-pair daemon, not the library"
            }
        }
        if !listen.isEmpty { c.listen = listen }
        if noDHT { c.dhtBootstrap = [] }
        return nil
    }
}
