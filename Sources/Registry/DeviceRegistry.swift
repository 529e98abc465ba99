import CSupport
import Crypto
import Pairing
import Wire

/// What went wrong with the registry, for one clear line to the user.
public enum RegistryFailure: Error, Equatable {
    /// Another sd-pair holds the lock.
    case locked
    case unreadable(errno: Int32)
    /// The file is damaged; it is left as it is (and `devices.prev` holds the previous good copy, if any).
    case corrupt(RegistryFormatError)
    case unwritable(errno: Int32)
    case full
    /// A new pairing claims the device id of a device recorded with another public key.
    case deviceIDTaken
    /// The state directory cannot be trusted or used (`StateDirectory.problem` says why).
    case stateDirectory(String)

    public var message: String {
        switch self {
        case .locked: "another sd-pair is updating the registry; try again"
        case .unreadable(let e): "cannot read the device registry (errno " + String(e) + ")"
        case .corrupt: "the device registry file 'devices' is damaged; it was left untouched (the previous good copy is 'devices.prev')"
        case .unwritable(let e): "cannot write the device registry (errno " + String(e) + (e == ENOSPC || e == EFBIG ? ": disk full or file size limit" : "") + "); nothing was changed"
        case .full: "the device registry is full (" + String(RegistryCodec.capacity) + " devices); forget one first"
        case .stateDirectory(let problem): problem
        case .deviceIDTaken: "a different device (another key) is already paired with this device id; nothing was changed (forget it first to replace it)"
        }
    }
}

/// The `devices` file in the state directory. Every change: lock, read, change, write a temp file, fsync, keep the
/// old file as `devices.prev`, rename, fsync the directory. A change is acknowledged only after all of that.
/// (Forgetting also replaces `devices.prev`, so the forgotten keys are in neither file; scrubbing freed disk
/// blocks is the filesystem's business and out of scope.)
public struct DeviceRegistry {
    public let directory: String
    static let fileName = "devices"
    static let backupName = "devices.prev"
    static let lockName = "lock"

    public init(directory: String) { self.directory = directory }

    public func load() -> Result<[PairedDevice], RegistryFailure> {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RegistryCodec.maxFileLength + 1, alignment: 8)
        defer {
            Sodium.wipe(buffer)
            buffer.deallocate()
        }
        let path = directory + "/" + Self.fileName
        let n = path.withCString { sd_read_file($0, buffer.baseAddress, buffer.count) }
        if n == -Int(ENOENT) { return .success([]) }
        if n == -Int(EFBIG) { return .failure(.corrupt(.oversized(length: buffer.count))) }
        if n < 0 { return .failure(.unreadable(errno: Int32(-n))) }
        do { return .success(try RegistryCodec.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))) } catch {
            return .failure(.corrupt(error))
        }
    }

    /// Adds `device`. A device is its key: a record with the same public key is replaced (re-pairing); a record with
    /// the same device id but another key is not — the device id is self-chosen and not secret, so replacing it
    /// would let any code holder take over a paired device's record (`.deviceIDTaken`; `forget` it first).
    public func record(_ device: PairedDevice) -> Result<Void, RegistryFailure> {
        var taken = false
        let result = update { devices in
            if devices.contains(where: { $0.deviceID == device.deviceID && $0.publicKey != device.publicKey }) {
                taken = true
                return true  // nothing changed; reported below
            }
            devices.removeAll { $0.publicKey == device.publicKey }
            guard devices.count < RegistryCodec.capacity else { return false }
            devices.append(device)
            return true
        }
        if taken, case .success = result { return .failure(.deviceIDTaken) }
        return result
    }

    /// Removes the device; `.success(false)` when it was not there.
    public func forget(_ id: DeviceID) -> Result<Bool, RegistryFailure> {
        var found = false
        // The backup must not keep the forgotten keys: once the new file is in place it becomes the backup too.
        let result = update(refreshBackup: true) { devices in
            let before = devices.count
            devices.removeAll { $0.deviceID == id }
            found = devices.count != before
            return true
        }
        return result.map { found }
    }

    /// Runs one locked read-change-write cycle. `change` returns false when the registry is full.
    private func update(refreshBackup: Bool = false, _ change: (inout [PairedDevice]) -> Bool) -> Result<Void, RegistryFailure> {
        let made = directory.withCString { sd_mkdir($0) }
        if made < 0 { return .failure(.stateDirectory(StateDirectory.problem(directory, -made))) }
        let lock = directory.withCString { dir in Self.lockName.withCString { sd_lock(dir, $0) } }
        if lock == -EWOULDBLOCK || lock == -EAGAIN { return .failure(.locked) }
        if lock < 0 { return .failure(.unwritable(errno: -lock)) }
        defer { _ = CSupport.close(lock) }

        var devices: [PairedDevice]
        switch load() {
        case .success(let d): devices = d
        case .failure(let f): return .failure(f)
        }
        defer { for i in devices.indices { devices[i].wipe() } }
        guard change(&devices) else { return .failure(.full) }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: RegistryCodec.maxFileLength, alignment: 8)
        defer {
            Sodium.wipe(buffer)
            buffer.deallocate()
        }
        guard let n = RegistryCodec.encode(devices, into: buffer) else { return .failure(.full) }
        let backup = directory.withCString { dir in Self.fileName.withCString { name in Self.backupName.withCString { sd_keep_backup(dir, name, $0) } } }
        if backup < 0 { return .failure(.unwritable(errno: -backup)) }
        let rc = directory.withCString { dir in Self.fileName.withCString { sd_write_file_atomic(dir, $0, buffer.baseAddress, n) } }
        if rc < 0 { return .failure(.unwritable(errno: -rc)) }
        if refreshBackup {
            let again = directory.withCString { dir in Self.fileName.withCString { name in Self.backupName.withCString { sd_keep_backup(dir, name, $0) } } }
            if again < 0 { return .failure(.unwritable(errno: -again)) }
        }
        return .success(())
    }
}
