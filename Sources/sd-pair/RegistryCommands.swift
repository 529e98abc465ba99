import Agent
import CSupport
import Crypto
import Pairing
import Registry
import Transport
import Wire

/// `devices` and `forget`: the registry from the command line.
enum RegistryCommands {
    static func devices(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "devices", valued: ["--state-dir"], switches: ["--json"], config: true) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        guard options.positionals.isEmpty else { return .failure(UsageError("devices: unexpected argument '" + options.positionals[0] + "'")) }
        var list: [PairedDevice]
        let directory = NetworkCommands.stateDirectory(options)
        if let named = options.value("--state-dir"), named.withCString({ sd_check_state_dir($0, nil) }) == -ENOENT {
            // A mistyped path is not "no paired devices".
            Output.error("devices: there is no state directory " + named + " (check --state-dir)")
            return .success(.environment)
        }
        switch DeviceRegistry(directory: directory).load() {
        case .success(let l): list = l
        case .failure(let f):
            Output.error(f.message)
            return .success(.environment)
        }
        defer { for i in list.indices { list[i].wipe() } }
        if options.has("--json") {
            var out = "["
            for (k, d) in list.enumerated() {
                if k > 0 { out += "," }
                out += "{\"device_id\":\"" + d.deviceID.uuidString + "\",\"name\":" + JSON.string(d.name.string) + ",\"device_type\":\""
                    + d.type.name + "\",\"os_version\":" + JSON.string(d.osVersion.string) + ",\"app_version\":" + JSON.string(d.appVersion.string)
                    + ",\"peer_id\":\"" + peerText(d) + "\",\"paired_at\":" + String(d.pairedAt) + "}"
            }
            Output.line(out + "]")
        } else if list.isEmpty {
            Output.line("no paired devices")
        } else {
            for d in list {
                Output.line(d.deviceID.uuidString + "  " + d.type.name + "  " + d.name.string + "  (" + d.osVersion.string + ", paired " + utc(d.pairedAt) + ")")
            }
        }
        return .success(.success)
    }

    static func forget(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "forget", valued: ["--state-dir"], switches: [], config: true) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        guard options.positionals.count == 1 else {
            return .failure(UsageError("forget: give one device: its id as 'sd-pair devices' shows it (or the start of it, 4 characters at least), or its name"))
        }
        let registry = DeviceRegistry(directory: NetworkCommands.stateDirectory(options))
        let typed = options.positionals[0]
        var id: DeviceID
        var name = ""
        if let bytes = Hex.decodeUUID(typed) {
            id = DeviceID(bytes: bytes)
        } else {
            switch registry.load() {
            case .success(var list):
                defer { for i in list.indices { list[i].wipe() } }
                var found: Int? = nil
                var fits = 0
                let bytes = Array(typed.utf8)
                for (k, d) in list.enumerated() where Self.matches(bytes, d) {
                    found = k
                    fits += 1
                }
                guard let k = found, fits == 1 else {
                    if fits > 1 { return .failure(UsageError("forget: that fits " + String(fits) + " devices ('sd-pair devices' lists them); give more of the id")) }
                    Output.error("no paired device has that id or name ('sd-pair devices' lists them)")
                    return .success(.pairingFailed)
                }
                (id, name) = (list[k].deviceID, " (" + list[k].name.string + ")")
            case .failure(let f):
                Output.error(f.message)
                return .success(.environment)
            }
        }
        switch registry.forget(id) {
        case .success(true):
            Output.line("forgot " + id.uuidString + name + " (its keys are gone from the registry)")
            return .success(.success)
        case .success(false):
            Output.error("no paired device " + id.uuidString)
            return .success(.pairingFailed)
        case .failure(let f):
            Output.error(f.message)
            return .success(.environment)
        }
    }

    /// `typed` names `device`: its name byte for byte, or the start of its id (4 characters at least, either case).
    static func matches(_ typed: [UInt8], _ device: PairedDevice) -> Bool {
        if device.name.withUnsafeBytes({ n in typed.withUnsafeBytes { n.sameBytes(as: $0) } }) { return true }
        let id = Array(device.deviceID.uuidString.utf8)
        guard typed.count >= 4, typed.count <= id.count else { return false }
        for k in 0..<typed.count where typed[k] | 0x20 != id[k] | 0x20 { return false }
        return true
    }

    /// Test-only (crash-safety test): records `--count` synthetic devices one by one and prints "ACK <id>" after each
    /// change is durable.
    static func testWriter(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        let options: Options
        switch Options.parse(&args, command: "registry-test-writer", valued: ["--state-dir", "--count"], switches: []) {
        case .success(let o): options = o
        case .failure(let e): return .failure(e)
        }
        let count: Int
        switch options.number("--count", in: 1...64, default: 8, command: "registry-test-writer") {
        case .success(let n): count = n
        case .failure(let e): return .failure(e)
        }
        let registry = DeviceRegistry(directory: NetworkCommands.stateDirectory(options))
        var rng = SystemRandom()
        for n in 0..<count {
            let name = (try? FixedText<64>("test device " + String(n))) ?? FixedText()
            let device = PairedDevice(
                deviceID: DeviceID(bytes: rng.bytes()), type: .other, name: name, osVersion: FixedText(), appVersion: FixedText(),
                publicKey: Ed25519.PublicKey(bytes: rng.bytes()), sendKey: SymmetricKey.random(using: &rng),
                receiveKey: SymmetricKey.random(using: &rng), pairedAt: sd_unix_time())
            switch registry.record(device) {
            case .success: Output.line("ACK " + device.deviceID.uuidString)
            case .failure(let f):
                Output.error(f.message)
                return .success(f == .locked ? .pairingFailed : .environment)
            }
        }
        return .success(.success)
    }

    /// The libp2p peer id of the device's identity key.
    static func peerText(_ d: PairedDevice) -> String { PeerID(publicKey: d.publicKey).text }

    /// "YYYY-MM-DD HH:MM UTC" from Unix seconds (civil-from-days; no Foundation in the agent).
    static func utc(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let rest = seconds - days * 86400
        let (year, month, day) = RFC3339.civil(fromDays: days)
        func two(_ v: Int) -> String { (v < 10 ? "0" : "") + String(v) }
        return String(year) + "-" + two(month) + "-" + two(day) + " " + two(Int(rest / 3600)) + ":" + two(Int((rest % 3600) / 60)) + " UTC"
    }
}
