import Crypto
import Pairing
import Wire

/// Why bytes are not a registry file.
public enum RegistryFormatError: Error, Equatable, Sendable {
    case badMagic
    case unsupportedVersion(UInt8)
    case truncated
    case oversized(length: Int)
    case tooManyRecords(Int)
    case checksumMismatch
    /// Record `index` (0-based) holds an impossible value.
    case invalidRecord(index: Int)
}

/// The `devices` file (Docs/PROTOCOL.md §9):
///
///     "SDPD" ‖ version 1 ‖ 3 zero bytes ‖ count (u32 BE) ‖ count × record ‖ SHA-256(everything before)[0..<16]
///     record = device_id[16] ‖ type[1] ‖ name Text(64) ‖ os Text(64) ‖ app Text(32) ‖ public_key[32]
///              ‖ send_key[32] ‖ receive_key[32] ‖ paired_at (i64 BE)            Text(n) = len[1] ‖ n bytes, zero-padded
///
/// Records have a fixed size so that the file's size follows from its count and nothing in it is parsed twice.
public enum RegistryCodec {
    /// A NAS pairs with a handful of devices; 64 keeps the registry (and its memory) small and bounded.
    public static let capacity = 64
    static let headerLength = 12
    static let checksumLength = 16
    public static let recordLength = 16 + 1 + 65 + 65 + 33 + 32 + 32 + 32 + 8
    public static let maxFileLength = headerLength + capacity * recordLength + checksumLength

    public static func fileLength(count: Int) -> Int { headerLength + count * recordLength + checksumLength }

    public static func encode(_ devices: [PairedDevice], into out: UnsafeMutableRawBufferPointer) -> Int? {
        guard devices.count <= capacity, out.count >= fileLength(count: devices.count) else { return nil }
        var w = ByteWriter(out)
        do {
            try w.write("SDPD")
            try w.write(1)
            for _ in 0..<3 { try w.write(0) }
            try w.writeUInt16BigEndian(UInt16(devices.count >> 16))
            try w.writeUInt16BigEndian(UInt16(devices.count & 0xFFFF))
            for d in devices {
                try w.write(d.deviceID.bytes)
                try w.write(d.type.rawValue)
                try text(d.name, 64, &w)
                try text(d.osVersion, 64, &w)
                try text(d.appVersion, 32, &w)
                try w.write(d.publicKey.bytes)
                try w.write(d.sendKey.bytes)
                try w.write(d.receiveKey.bytes)
                let t = UInt64(bitPattern: d.pairedAt)
                for shift in stride(from: 56, through: 0, by: -8) { try w.write(UInt8(truncatingIfNeeded: t >> UInt64(shift))) }
            }
            let digest = SHA256.hash(w.written)
            for i in 0..<checksumLength { try w.write(digest[i]) }
        } catch {
            return nil
        }
        return w.count
    }

    static func text<let n: Int>(_ t: FixedText<n>, _ width: Int, _ w: inout ByteWriter) throws(WireError) {
        try w.write(UInt8(t.count))
        try t.withUnsafeBytes { (raw) throws(WireError) in try w.write(raw) }
        for _ in t.count..<width { try w.write(0) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RegistryFormatError) -> [PairedDevice] {
        guard bytes.count >= headerLength + checksumLength else { throw .truncated }
        guard bytes.count <= maxFileLength else { throw .oversized(length: bytes.count) }
        guard bytes[0] == UInt8(ascii: "S"), bytes[1] == UInt8(ascii: "D"), bytes[2] == UInt8(ascii: "P"), bytes[3] == UInt8(ascii: "D") else {
            throw .badMagic
        }
        guard bytes[4] == 1 else { throw .unsupportedVersion(bytes[4]) }
        let count = Int(bytes[8]) << 24 | Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
        guard count <= capacity else { throw .tooManyRecords(count) }
        guard bytes.count == fileLength(count: count) else { throw bytes.count < fileLength(count: count) ? .truncated : .oversized(length: bytes.count) }
        let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - checksumLength)])
        let digest = SHA256.hash(body)
        var stored = FixedBytes<16>()
        for i in 0..<checksumLength { stored[i] = bytes[body.count + i] }
        var expected = FixedBytes<16>()
        for i in 0..<checksumLength { expected[i] = digest[i] }
        guard stored.constantTimeEquals(expected) else { throw .checksumMismatch }

        var devices: [PairedDevice] = []
        devices.reserveCapacity(count)
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: body[headerLength...]))
        for index in 0..<count {
            guard let device = record(&r) else { throw .invalidRecord(index: index) }
            devices.append(device)
        }
        return devices
    }

    static func record(_ r: inout ByteReader) -> PairedDevice? {
        do {
            let id = DeviceID(bytes: try r.readFixed())
            guard let type = DeviceType(rawValue: try r.readByte()) else { return nil }
            guard let name: FixedText<64> = try text(&r, 64), !name.isEmpty,
                let os: FixedText<64> = try text(&r, 64), let app: FixedText<32> = try text(&r, 32)
            else { return nil }
            let key = Ed25519.PublicKey(bytes: try r.readFixed())
            let send = SymmetricKey(bytes: try r.readFixed())
            let receive = SymmetricKey(bytes: try r.readFixed())
            var t: UInt64 = 0
            for _ in 0..<8 { t = t << 8 | UInt64(try r.readByte()) }
            return PairedDevice(
                deviceID: id, type: type, name: name, osVersion: os, appVersion: app, publicKey: key, sendKey: send,
                receiveKey: receive, pairedAt: Int64(bitPattern: t))
        } catch {
            return nil
        }
    }

    static func text<let n: Int>(_ r: inout ByteReader, _ width: Int) throws(WireError) -> FixedText<n>? {
        let length = Int(try r.readByte())
        let field = try r.readSlice(width)
        guard length <= width else { return nil }
        switch FixedText<n>.validated(UnsafeRawBufferPointer(rebasing: field[0..<length])) {
        case .success(let t): return t
        case .failure: return nil
        }
    }
}
