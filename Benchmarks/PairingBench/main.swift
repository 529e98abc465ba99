import CSodium
import CSupport
import Crypto
import Pairing
import Wire

// Times one in-memory pairing exchange (both roles: code derivations, proofs, Ed25519 sign/verify, session keys,
// message encode/frame/decode, state machines) against the raw libsodium calls that exchange is made of, called
// directly in the same process and interleaved with it. The ratio is our overhead over the primitives.
//
//   swift run -c release pairing-bench [--rounds N] [--iterations N]

func argument(_ name: StaticString, default value: Int) -> Int {
    var i: Int32 = 1
    while i < sd_argc() - 1 {
        if let a = sd_arg(i), String(cString: a).isExactly(name), let v = sd_arg(i + 1), let n = Int(String(cString: v)), n > 0 {
            return n
        }
        i += 1
    }
    return value
}

struct Inputs {
    var code: PairingCode
    var initiatorKeys: Ed25519.KeyPair
    var joinerKeys: Ed25519.KeyPair
    var nas: DeviceInfo
    var laptop: DeviceInfo
    var handshakeHash: FixedBytes<32>
    var exporter: SymmetricKey
}

func makeInputs() -> Inputs? {
    var rng = SystemRandom()
    guard let nas = try? DeviceInfo.make(deviceID: DeviceID(bytes: rng.bytes()), name: "Bench NAS", type: .server, osVersion: "Linux", appVersion: "bench"),
        let laptop = try? DeviceInfo.make(deviceID: DeviceID(bytes: rng.bytes()), name: "Bench Laptop", type: .laptop, osVersion: "Linux", appVersion: "bench")
    else { return nil }
    return Inputs(
        code: PairingCode.generate(using: &rng), initiatorKeys: Ed25519.KeyPair.generate(using: &rng),
        joinerKeys: Ed25519.KeyPair.generate(using: &rng), nas: nas, laptop: laptop, handshakeHash: rng.bytes(),
        exporter: SymmetricKey.random(using: &rng))
}

/// One full exchange through the library. Returns false if it did not pair (then the numbers mean nothing).
/// With a short code's inputs, the exchange adds the two CPace shares (issue 19).
func exchange(_ inputs: Inputs, policy: WindowPolicy) -> Bool {
    let outcome = LoopbackExchange.run(
        initiator: .init(code: inputs.code, identity: inputs.initiatorKeys, device: inputs.nas),
        joiner: .init(code: inputs.code, identity: inputs.joinerKeys, device: inputs.laptop),
        handshakeHash: inputs.handshakeHash, exporter: inputs.exporter, policy: policy, now: Instant(milliseconds: 0),
        random: SystemRandom(), trace: { _ in })
    return outcome.initiatorPeer != nil && outcome.joinerPeer != nil
}

/// The same primitive calls, straight to libsodium, on buffers of the same sizes:
/// 20 × HMAC-SHA256 (2 × 5 for the code derivations, 2 × 2 for the proofs, 2 × 3 for the session keys),
/// 1 × Ed25519 sign and 1 × verify of the 100-byte challenge message, 1 × randombytes(32), 2 × sodium_memcmp(32).
struct RawPrimitives {
    var key = [UInt8](repeating: 7, count: 32)
    var message = [UInt8](repeating: 9, count: 100)
    var out = [UInt8](repeating: 0, count: 64)
    var signature = [UInt8](repeating: 0, count: 64)
    var pk = [UInt8](repeating: 0, count: 32)
    var sk = [UInt8](repeating: 0, count: 64)
    var state = crypto_auth_hmacsha256_state()

    init() { _ = crypto_sign_keypair(&pk, &sk) }

    mutating func run() -> Bool {
        for _ in 0..<20 {
            crypto_auth_hmacsha256_init(&state, key, 32)
            crypto_auth_hmacsha256_update(&state, message, 100)
            crypto_auth_hmacsha256_final(&state, &out)
        }
        randombytes_buf(&key, 32)
        crypto_sign_detached(&signature, nil, message, 100, sk)
        let ok = crypto_sign_verify_detached(signature, message, 100, pk) == 0
        _ = sodium_memcmp(out, key, 32)
        _ = sodium_memcmp(out, key, 32)
        return ok
    }
}

func median(_ values: [UInt64]) -> UInt64 {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func micros(_ nanoseconds: UInt64) -> String {
    let tenths = nanoseconds / 100
    return String(tenths / 10) + "." + String(tenths % 10) + " µs"
}

func main() -> Int32 {
    do { try Sodium.initialize() } catch {
        print("libsodium could not start")
        return 3
    }
    let rounds = argument("--rounds", default: 15)
    let iterations = argument("--iterations", default: 400)
    guard let inputs = makeInputs() else { return 3 }
    var shortInputs = inputs
    var rng = SystemRandom()
    shortInputs.code = PairingCode(short: ShortCode.generate(using: &rng))
    let policy = WindowPolicy.standard
    var raw = RawPrimitives()

    // Warm up caches and lazy initialisation on both paths.
    for _ in 0..<50 {
        guard exchange(inputs, policy: policy), exchange(shortInputs, policy: policy), raw.run() else { print("warm-up failed"); return 1 }
    }
    var exchangeTimes: [UInt64] = []
    var shortTimes: [UInt64] = []
    var rawTimes: [UInt64] = []
    for _ in 0..<rounds {
        // Interleave the two so that frequency scaling and noise from the other core hit both alike.
        var start = sd_monotonic_ns()
        for _ in 0..<iterations where !exchange(inputs, policy: policy) { print("exchange failed"); return 1 }
        exchangeTimes.append((sd_monotonic_ns() - start) / UInt64(iterations))
        start = sd_monotonic_ns()
        for _ in 0..<iterations where !raw.run() { print("raw primitives failed"); return 1 }
        rawTimes.append((sd_monotonic_ns() - start) / UInt64(iterations))
        start = sd_monotonic_ns()
        for _ in 0..<iterations where !exchange(shortInputs, policy: policy) { print("short-code exchange failed"); return 1 }
        shortTimes.append((sd_monotonic_ns() - start) / UInt64(iterations))
    }
    let e = median(exchangeTimes)
    let r = median(rawTimes)
    let ratioHundredths = e * 100 / max(r, 1)
    print("pairing exchange (both roles, in memory):   " + micros(e) + " per exchange (median of " + String(rounds) + " rounds × " + String(iterations) + ")")
    print("raw libsodium primitives of one exchange:   " + micros(r))
    print("ratio exchange / primitives: " + String(ratioHundredths / 100) + "." + (ratioHundredths % 100 < 10 ? "0" : "") + String(ratioHundredths % 100) + "× (goal ≤ 2×)")
    // Report only: what the PAKE (two ristretto255 generators, four scalar multiplications) costs per pairing.
    let sh = median(shortTimes)
    let shortHundredths = sh * 100 / max(e, 1)
    print("short-code exchange (CPace, both roles):    " + micros(sh) + "; ratio short / 12-word exchange: " + String(shortHundredths / 100) + "." + (shortHundredths % 100 < 10 ? "0" : "") + String(shortHundredths % 100) + "×")
    return ratioHundredths <= 200 ? 0 : 1
}

exit(main())
