import CSupport
import Crypto
import Pairing
import Registry
import Wire

/// The device's long-term identity in `<state dir>/identity`: the Ed25519 seed and the device id.
///
/// Format (64 bytes): "SDPI" ‖ version 1 ‖ 3 zero bytes ‖ seed[32] ‖ device_id[16] ‖ SHA-256(first 56 bytes)[0..<8].
/// Written once, atomically, mode 0600. A file that does not check out is an error: silently making a new
/// identity would orphan every pairing made with the old one.
public struct DeviceIdentity {
    public var keys: Ed25519.KeyPair
    public var deviceID: DeviceID

    static let fileName = "identity"
    static let fileLength = 64

    public enum LoadError: Error, Equatable {
        case stateDirectory(path: String, errno: Int32)
        case unreadable(errno: Int32)
        case corrupt
        case unwritable(errno: Int32)
    }

    /// Loads the identity, creating the state directory and a fresh identity on first run.
    public static func loadOrCreate(stateDirectory: String) -> Result<DeviceIdentity, LoadError> {
        let made = stateDirectory.withCString { sd_mkdir($0) }
        if made < 0 { return .failure(.stateDirectory(path: stateDirectory, errno: -made)) }
        switch load(stateDirectory: stateDirectory) {
        case .success(nil): return create(stateDirectory: stateDirectory)
        case .success(let identity?): return .success(identity)
        case .failure(let e): return .failure(e)
        }
    }

    /// The identity if there is one (nil: none yet), changing nothing (`doctor`).
    public static func load(stateDirectory: String) -> Result<DeviceIdentity?, LoadError> {
        var buffer = FixedBytes<64>()
        let path = stateDirectory + "/" + fileName
        let n = buffer.withUnsafeMutableBytes { raw in path.withCString { sd_read_file($0, raw.baseAddress, raw.count) } }
        if n == -Int(ENOENT) { return .success(nil) }
        if n < 0 && n != -Int(EFBIG) { return .failure(.unreadable(errno: Int32(-n))) }
        defer { buffer.wipe() }
        guard n == fileLength, let identity = parse(buffer) else { return .failure(.corrupt) }
        return .success(identity)
    }

    static func parse(_ b: FixedBytes<64>) -> DeviceIdentity? {
        guard b[0] == UInt8(ascii: "S"), b[1] == UInt8(ascii: "D"), b[2] == UInt8(ascii: "P"), b[3] == UInt8(ascii: "I"), b[4] == 1 else { return nil }
        let digest = b.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        for i in 0..<8 where digest[i] != b[56 + i] { return nil }
        var seed = FixedBytes<32>()
        var id = FixedBytes<16>()
        for i in 0..<32 { seed[i] = b[8 + i] }
        for i in 0..<16 { id[i] = b[40 + i] }
        defer { seed.wipe() }
        return DeviceIdentity(keys: Ed25519.KeyPair(seed: seed), deviceID: DeviceID(bytes: id))
    }

    static func create(stateDirectory: String) -> Result<DeviceIdentity, LoadError> {
        var rng = SystemRandom()
        var seed: FixedBytes<32> = rng.bytes()
        let id: FixedBytes<16> = rng.bytes()
        var b = FixedBytes<64>()
        for (i, c) in [UInt8(ascii: "S"), UInt8(ascii: "D"), UInt8(ascii: "P"), UInt8(ascii: "I"), 1].enumerated() { b[i] = c }
        for i in 0..<32 { b[8 + i] = seed[i] }
        for i in 0..<16 { b[40 + i] = id[i] }
        let digest = b.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        for i in 0..<8 { b[56 + i] = digest[i] }
        let rc = b.withUnsafeBytes { raw in
            stateDirectory.withCString { dir in fileName.withCString { sd_write_file_atomic(dir, $0, raw.baseAddress, raw.count) } }
        }
        b.wipe()
        defer { seed.wipe() }
        if rc < 0 { return .failure(.unwritable(errno: -rc)) }
        return .success(DeviceIdentity(keys: Ed25519.KeyPair(seed: seed), deviceID: DeviceID(bytes: id)))
    }
}

extension DeviceIdentity.LoadError {
    public var message: String {
        switch self {
        case .stateDirectory(let path, let e): StateDirectory.problem(path, e)
        case .unreadable(let e): "cannot read the identity file (errno " + String(e) + ")"
        case .corrupt: "the identity file is corrupt; move it away to start over with a new identity (existing pairings will no longer match)"
        case .unwritable(let e): "cannot write the identity file (errno " + String(e) + ")"
        }
    }
}

/// Facts about this host for `DeviceInfo` defaults.
public enum HostFacts {
    public static var hostName: String { text(sd_host_name) ?? "device" }
    public static var osVersion: String { text(sd_os_version) ?? "Linux" }

    static func text(_ fill: (UnsafeMutablePointer<CChar>?, Int) -> Int32) -> String? {
        var buffer = InlineArray<128, CChar>(repeating: 0)
        var span = buffer.mutableSpan
        let rc = span.withUnsafeMutableBufferPointer { fill($0.baseAddress, 128) }
        guard rc == 0 else { return nil }
        return buffer.span.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
