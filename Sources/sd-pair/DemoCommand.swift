import Crypto
import Pairing
import Wire

/// `sd-pair demo`: the whole pairing protocol between two in-memory devices, through the real codec. The
/// channel binding (Noise handshake hash and exporter) is drawn at random here; the transport supplies it for real.
enum DemoCommand {
    static func run(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        var expiry = WindowPolicy.defaultExpirySeconds
        while let word = args.next() {
            let (name, inline) = Arguments.split(word)
            if name.isExactly("--expiry") {
                switch args.value(for: name, inline: inline) {
                case .success(let v):
                    guard let seconds = UInt32(v), WindowPolicy.expiryRange.contains(seconds) else {
                        return .failure(UsageError("demo: --expiry must be a number of seconds from 60 to 600"))
                    }
                    expiry = seconds
                case .failure(let e): return .failure(e)
                }
            } else {
                return .failure(UsageError("demo: unknown option '" + word + "'"))
            }
        }
        let policy: WindowPolicy
        do { policy = try WindowPolicy(expirySeconds: expiry) } catch {
            return .failure(UsageError("demo: invalid expiry"))
        }

        var rng = SystemRandom()
        var code = PairingCode.generate(using: &rng)
        defer { code.wipe() }
        guard let nas = device(rng: &rng, name: "Demo NAS", type: .server),
            let laptop = device(rng: &rng, name: "Demo Laptop", type: .laptop)
        else {
            Output.error("demo: could not build device descriptions")
            return .success(.environment)
        }
        var nasIdentity = Ed25519.KeyPair.generate(using: &rng)
        var laptopIdentity = Ed25519.KeyPair.generate(using: &rng)
        defer {
            nasIdentity.wipe()
            laptopIdentity.wipe()
        }
        let sessionID = CodeSecrets(code: code).sessionID

        Output.line("sd-pair: pairing code: " + code.words + " (expires in " + String(expiry) + " s)")
        Output.line("session_id: " + sessionID.uuidString)
        // The joiner's side parses the words as a person might type them: shouting, with stray spaces.
        var typed: PairingCode
        do { typed = try PairingCode.parse("  " + shouted(code.words) + "  ") } catch {
            Output.error("demo: the code did not parse back: " + error.message)
            return .success(.pairingFailed)
        }
        defer { typed.wipe() }

        var exporter = SymmetricKey.random(using: &rng)
        defer { exporter.wipe() }
        let outcome = LoopbackExchange.run(
            initiator: .init(code: code, identity: nasIdentity, device: nas),
            joiner: .init(code: typed, identity: laptopIdentity, device: laptop),
            handshakeHash: rng.bytes(), exporter: exporter, policy: policy, now: Instant(milliseconds: 0), random: rng,
            trace: { Output.line("  " + $0) })

        guard var initiatorView = outcome.initiatorPeer, var joinerView = outcome.joinerPeer else {
            Output.line("FAILED initiator=" + outcome.initiatorState.name + " joiner=" + outcome.joinerState.name)
            return .success(.pairingFailed)
        }
        defer {
            initiatorView.sessionKeys.wipe()
            joinerView.sessionKeys.wipe()
        }
        let agree = initiatorView.sessionKeys.sendKey.constantTimeEquals(joinerView.sessionKeys.receiveKey)
            && initiatorView.sessionKeys.receiveKey.constantTimeEquals(joinerView.sessionKeys.sendKey)
        Output.line("PAIRED " + initiatorView.deviceInfo.deviceID.uuidString + " " + initiatorView.deviceInfo.name.string + " (as seen by the initiator)")
        Output.line("PAIRED " + joinerView.deviceInfo.deviceID.uuidString + " " + joinerView.deviceInfo.name.string + " (as seen by the joiner)")
        Output.line("session keys: " + (agree ? "both directions agree" : "MISMATCH") + ", "
            + String(outcome.messages) + " messages, " + String(outcome.bytesOnWire) + " bytes")
        return .success(agree ? .success : .pairingFailed)
    }

    static func device(rng: inout SystemRandom, name: String, type: DeviceType) -> DeviceInfo? {
        try? DeviceInfo.make(
            deviceID: DeviceID(bytes: rng.bytes()), name: name, type: type, osVersion: "Linux", appVersion: CommandLineTool.version)
    }

    /// Upper case with every space tripled, as a hurried person might type it.
    static func shouted(_ text: String) -> String {
        var out = ""
        for c in text.utf8 {
            if c == 32 {
                out += "   "
            } else {
                out.unicodeScalars.append(Unicode.Scalar(c >= 97 && c <= 122 ? c - 32 : c))
            }
        }
        return out
    }
}
