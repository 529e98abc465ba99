import Crypto
import Pairing
import Wire

/// `sd-pair code`: make, show and check pairing codes.
enum CodeCommand {
    static func run(_ args: inout Arguments) -> Result<ExitCode, UsageError> {
        var entropyHex: String? = nil
        var words: String? = nil
        while let word = args.next() {
            let (name, inline) = Arguments.split(word)
            if name.isExactly("--entropy") {
                switch args.value(for: name, inline: inline) {
                case .success(let v): entropyHex = v
                case .failure(let e): return .failure(e)
                }
            } else if name.isExactly("--words") {
                switch args.value(for: name, inline: inline) {
                case .success(let v): words = v
                case .failure(let e): return .failure(e)
                }
            } else {
                return .failure(UsageError("code: unknown option '" + word + "'"))
            }
        }
        if entropyHex != nil && words != nil { return .failure(UsageError("code: give --entropy or --words, not both")) }

        if let words {
            var code: PairingCode
            do { code = try PairingCode.parse(words) } catch {
                Output.error(error.message)
                return .success(.usage)
            }
            defer { code.wipe() }
            // A short code has no entropy to show: the digits checked, and the session id of its public ones.
            Output.line(code.isShort ? "short code: " + code.words : "entropy: " + Hex.encode(code.entropy))
            Output.line("session_id: " + CodeSecrets(code: code).sessionID.uuidString)
            return .success(.success)
        }

        var code: PairingCode
        if let entropyHex {
            guard let entropy = Hex.decode(entropyHex, as: FixedBytes<16>.self) else {
                return .failure(UsageError("code: --entropy needs exactly 32 hex digits (16 bytes)"))
            }
            code = PairingCode(entropy: entropy)
        } else {
            var rng = SystemRandom()
            code = PairingCode.generate(using: &rng)
        }
        defer { code.wipe() }
        var secrets = CodeSecrets(code: code)
        defer { secrets.wipe() }
        Output.line(code.words)
        Output.line("session_id: " + secrets.sessionID.uuidString)
        return .success(.success)
    }
}
