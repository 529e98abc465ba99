import Crypto
import Foundation
import Pairing
import Wire
import XCTest

@testable import Registry

func sample(_ n: UInt8) -> PairedDevice {
    PairedDevice(
        deviceID: DeviceID(bytes: FixedBytes(repeating: n)), type: .laptop, name: try! FixedText("device \(n) \"quoted\""),
        osVersion: try! FixedText("Linux 6.1"), appVersion: try! FixedText("0.1.0"), publicKey: .init(bytes: FixedBytes(repeating: n &+ 1)),
        sendKey: SymmetricKey(bytes: FixedBytes(repeating: 0xA0 | n)), receiveKey: SymmetricKey(bytes: FixedBytes(repeating: 0xB0 | n)),
        pairedAt: 1_795_000_000 + Int64(n))
}

final class RegistryCodecTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }

    func encode(_ devices: [PairedDevice]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: RegistryCodec.maxFileLength)
        let n = out.withUnsafeMutableBytes { RegistryCodec.encode(devices, into: $0)! }
        return Array(out.prefix(n))
    }

    func decode(_ bytes: [UInt8]) -> Result<[PairedDevice], RegistryFormatError> {
        bytes.withUnsafeBytes { raw in
            do { return .success(try RegistryCodec.decode(raw)) } catch { return .failure(error as! RegistryFormatError) }
        }
    }

    func testRoundTrip() throws {
        let bytes = encode([sample(1), sample(2)])
        XCTAssertEqual(bytes.count, RegistryCodec.fileLength(count: 2))
        let back = try decode(bytes).get()
        XCTAssertEqual(back.map(\.deviceID), [sample(1).deviceID, sample(2).deviceID])
        XCTAssertEqual(back[1].name.string, "device 2 \"quoted\"")
        XCTAssertTrue(back[0].sendKey.constantTimeEquals(sample(1).sendKey))
        XCTAssertEqual(back[1].pairedAt, 1_795_000_002)
        XCTAssertEqual(try decode(encode([])).get().count, 0)
    }

    func testEveryDamageIsATypedError() {
        let good = encode([sample(1), sample(2)])
        for cut in 0..<good.count {
            guard case .failure = decode(Array(good.prefix(cut))) else { return XCTFail("accepted a file cut at \(cut)") }
        }
        for position in stride(from: 0, to: good.count, by: 7) {
            var bad = good
            bad[position] ^= 0x01
            guard case .failure = decode(bad) else { return XCTFail("accepted a flipped bit at \(position)") }
        }
        var magic = good
        magic[0] = UInt8(ascii: "X")
        XCTAssertEqual(decode(magic).failure, .badMagic)
        var version = good
        version[4] = 2
        XCTAssertEqual(decode(version).failure, .unsupportedVersion(2))
        var count = good
        count[11] = 200
        XCTAssertEqual(decode(count).failure, .tooManyRecords(200))
        XCTAssertEqual(decode(good + [0]).failure, .oversized(length: good.count + 1))
        var checksum = good
        checksum[good.count - 1] ^= 0xFF
        XCTAssertEqual(decode(checksum).failure, .checksumMismatch)
    }

    func testInvalidRecordBehindAValidChecksumIsRefused() {
        // A well-formed file (good checksum) whose record has device type 0.
        var bytes = encode([sample(1)])
        bytes[12 + 16] = 0
        let body = Array(bytes.prefix(bytes.count - 16))
        let digest = body.withUnsafeBytes { SHA256.hash($0) }
        for i in 0..<16 { bytes[body.count + i] = digest[i] }
        XCTAssertEqual(decode(bytes).failure, .invalidRecord(index: 0))
    }
}

final class DeviceRegistryTests: XCTestCase {
    override class func setUp() { try! Sodium.initialize() }
    var dir = ""

    override func setUp() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sd-pair-registry-" + UUID().uuidString).path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testRecordReplaceForgetAndPermissions() throws {
        let registry = DeviceRegistry(directory: dir)
        XCTAssertEqual(try registry.load().get().count, 0, "no file yet is an empty registry")
        XCTAssertNoThrow(try registry.record(sample(1)).get())
        XCTAssertNoThrow(try registry.record(sample(2)).get())
        var again = sample(1)
        again.name = try FixedText("renamed")
        XCTAssertNoThrow(try registry.record(again).get())
        let list = try registry.load().get()
        XCTAssertEqual(list.count, 2, "re-pairing replaces the record")
        XCTAssertEqual(list.last?.name.string, "renamed")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/devices")[.posixPermissions] as? NSNumber
        XCTAssertEqual(mode?.intValue, 0o600)

        XCTAssertEqual(try registry.forget(sample(2).deviceID).get(), true)
        XCTAssertEqual(try registry.forget(sample(2).deviceID).get(), false)
        // The forgotten device's keys are in neither the file nor its backup.
        for file in ["devices", "devices.prev"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file)))
            let key = [UInt8](repeating: 0xB2, count: 32)
            XCTAssertFalse(bytes.windows(ofCount: 32).contains { Array($0) == key }, file)
        }
    }

    /// Review finding 5: the device id is self-chosen and not secret; a new pairing that claims a paired device's id
    /// with another key must not replace that device's record (keys and public key). The same key re-pairs.
    func testAnotherKeyCannotTakeOverADeviceID() throws {
        let registry = DeviceRegistry(directory: dir)
        XCTAssertNoThrow(try registry.record(sample(1)).get())
        var intruder = sample(7)
        intruder.deviceID = sample(1).deviceID
        intruder.name = try FixedText("device 1 \"quoted\"")
        XCTAssertEqual(registry.record(intruder).failure, .deviceIDTaken)
        let list = try registry.load().get()
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list[0].publicKey, sample(1).publicKey, "the paired device keeps its key")
        XCTAssertTrue(list[0].sendKey.constantTimeEquals(sample(1).sendKey), "and its session keys")
        // The same key under a new device id (its identity file was re-made with the same key) replaces its record.
        var moved = sample(1)
        moved.deviceID = sample(9).deviceID
        XCTAssertNoThrow(try registry.record(moved).get())
        XCTAssertEqual(try registry.load().get().map(\.deviceID), [sample(9).deviceID])
    }

    func testCorruptFileIsReportedAndLeftAlone() throws {
        let registry = DeviceRegistry(directory: dir)
        try registry.record(sample(1)).get()
        try registry.record(sample(2)).get()
        let path = dir + "/devices"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[40] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        guard case .failure(.corrupt(.checksumMismatch)) = registry.load() else { return XCTFail() }
        guard case .failure(.corrupt) = registry.record(sample(3)) else { return XCTFail("must not write over a damaged file") }
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), bytes, "the damaged file is kept as it was")
        // The previous good copy is still readable.
        let previous = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/devices.prev")))
        XCTAssertEqual(try previous.withUnsafeBytes { try RegistryCodec.decode($0) }.count, 1)
        XCTAssertTrue(RegistryFailure.corrupt(.checksumMismatch).message.contains("devices.prev"))
    }

    func testCapacityIsEnforced() throws {
        let registry = DeviceRegistry(directory: dir)
        for n in 0..<RegistryCodec.capacity { try registry.record(sample(UInt8(n))).get() }
        guard case .failure(.full) = registry.record(sample(200)) else { return XCTFail() }
        XCTAssertEqual(try registry.load().get().count, RegistryCodec.capacity)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}

extension Array {
    func windows(ofCount n: Int) -> [ArraySlice<Element>] {
        guard count >= n else { return [] }
        return (0...(count - n)).map { self[$0..<($0 + n)] }
    }
}
