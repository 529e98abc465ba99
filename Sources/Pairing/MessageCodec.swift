import Crypto
import Wire

/// Why bytes are not a valid pairing message. Decoding never traps: every malformed input maps to one of these.
public enum MessageDecodeError: Error, Equatable, Sendable {
    case empty
    case unsupportedVersion(UInt8)
    case unknownType(UInt8)
    /// The message ended inside a field.
    case truncated
    /// Bytes were left after the last field.
    case trailingBytes(count: Int)
    /// A body larger than any valid message; rejected before parsing.
    case oversized(length: Int)
    case unknownDeviceType(UInt8)
    case invalidText(field: MessageField)
    case textTooLong(field: MessageField)
    /// A successful `Complete` must not carry a detail text.
    case inconsistentComplete
}

/// Names the text fields for errors.
public enum MessageField: UInt8, Sendable {
    case deviceName, deviceSlug, osVersion, appVersion, detail
}

/// The binary encoding of protocol v1 (Docs/PROTOCOL.md §4): version ‖ type ‖ fields, fixed-size fields raw,
/// text as one length byte ‖ UTF-8. Encoding writes into a caller buffer; decoding reads from one.
public enum MessageCodec {
    public static let version: UInt8 = 1
    /// The largest encoded message of v1 is a `PairingRequest` of 345 bytes (2 + 16 + 263 + 32 + 32); anything above
    /// 512 bytes cannot be a valid v1 message and is refused before parsing.
    public static let maxMessageLength = 512

    enum TypeCode: UInt8 {
        case request = 1, challenge = 2, response = 3, complete = 4, share = 5
    }

    // MARK: Encoding

    public static func encode(_ message: PairingMessage, into writer: inout ByteWriter) throws(WireError) {
        try writer.write(version)
        switch message {
        case .share(let m):
            try writer.write(TypeCode.share.rawValue)
            try writer.write(m.sessionID.bytes)
            try writer.write(m.share)
        case .request(let m):
            try writer.write(TypeCode.request.rawValue)
            try writer.write(m.sessionID.bytes)
            try encode(m.deviceInfo, into: &writer)
            try writer.write(m.publicKey.bytes)
            try writer.write(m.joinerProof)
        case .challenge(let m):
            try writer.write(TypeCode.challenge.rawValue)
            try writer.write(m.sessionID.bytes)
            try writer.write(m.challenge)
            try encode(m.deviceInfo, into: &writer)
            try writer.write(m.initiatorProof)
        case .response(let m):
            try writer.write(TypeCode.response.rawValue)
            try writer.write(m.sessionID.bytes)
            try writer.write(m.signature.bytes)
            try encode(m.deviceInfo, into: &writer)
        case .complete(let m):
            try writer.write(TypeCode.complete.rawValue)
            try writer.write(m.sessionID.bytes)
            try writer.write(m.rejection?.wireValue ?? 0)
            try encode(m.detail, into: &writer)
        }
    }

    static func encode(_ info: DeviceInfo, into writer: inout ByteWriter) throws(WireError) {
        try writer.write(info.deviceID.bytes)
        try writer.write(info.type.rawValue)
        try encode(info.name, into: &writer)
        try encode(info.slug, into: &writer)
        try encode(info.osVersion, into: &writer)
        try encode(info.appVersion, into: &writer)
    }

    static func encode<let n: Int>(_ text: FixedText<n>, into writer: inout ByteWriter) throws(WireError) {
        try writer.write(UInt8(text.count))
        try text.withUnsafeBytes { (raw) throws(WireError) in try writer.write(raw) }
    }

    // MARK: Decoding

    /// Decodes exactly one message occupying all of `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(MessageDecodeError) -> PairingMessage {
        guard bytes.count > 0 else { throw .empty }
        guard bytes.count <= maxMessageLength else { throw .oversized(length: bytes.count) }
        var reader = MessageReader(ByteReader(bytes))
        let v = try reader.byte()
        guard v == version else { throw .unsupportedVersion(v) }
        let rawType = try reader.byte()
        guard let type = TypeCode(rawValue: rawType) else { throw .unknownType(rawType) }
        let message: PairingMessage
        switch type {
        case .share:
            let sid = SessionID(bytes: try reader.fixed())
            message = .share(PakeShare(sessionID: sid, share: try reader.fixed()))
        case .request:
            let sid = SessionID(bytes: try reader.fixed())
            let info = try reader.deviceInfo()
            let key = Ed25519.PublicKey(bytes: try reader.fixed())
            let proof: FixedBytes<32> = try reader.fixed()
            message = .request(PairingRequest(sessionID: sid, deviceInfo: info, publicKey: key, joinerProof: proof))
        case .challenge:
            let sid = SessionID(bytes: try reader.fixed())
            let challenge: FixedBytes<32> = try reader.fixed()
            let info = try reader.deviceInfo()
            let proof: FixedBytes<32> = try reader.fixed()
            message = .challenge(Challenge(sessionID: sid, challenge: challenge, deviceInfo: info, initiatorProof: proof))
        case .response:
            let sid = SessionID(bytes: try reader.fixed())
            let sig = Ed25519.Signature(bytes: try reader.fixed())
            let info = try reader.deviceInfo()
            message = .response(Response(sessionID: sid, signature: sig, deviceInfo: info))
        case .complete:
            let sid = SessionID(bytes: try reader.fixed())
            let rejection = RejectReason(wireValue: try reader.byte())
            let detail: FixedText<128> = try reader.text(.detail)
            guard DeviceInfo.isCleanText(detail) else { throw .invalidText(field: .detail) }
            if rejection == nil && !detail.isEmpty { throw .inconsistentComplete }
            message = .complete(Complete(sessionID: sid, rejection: rejection, detail: detail))
        }
        guard reader.base.isAtEnd else { throw .trailingBytes(count: reader.base.remaining) }
        return message
    }
}

/// `ByteReader` with every failure mapped to `MessageDecodeError`, so decoding has one typed error throughout.
struct MessageReader {
    var base: ByteReader

    init(_ base: ByteReader) { self.base = base }

    mutating func byte() throws(MessageDecodeError) -> UInt8 {
        do { return try base.readByte() } catch { throw .truncated }
    }

    mutating func fixed<let n: Int>() throws(MessageDecodeError) -> FixedBytes<n> {
        do { return try base.readFixed() } catch { throw .truncated }
    }

    mutating func text<let n: Int>(_ field: MessageField) throws(MessageDecodeError) -> FixedText<n> {
        let length = Int(try byte())
        guard length <= n else { throw .textTooLong(field: field) }
        let raw: UnsafeRawBufferPointer
        do { raw = try base.readSlice(length) } catch { throw .truncated }
        do { return try FixedText<n>(validating: raw) } catch { throw .invalidText(field: field) }
    }

    mutating func deviceInfo() throws(MessageDecodeError) -> DeviceInfo {
        let id = DeviceID(bytes: try fixed())
        let rawType = try byte()
        guard let type = DeviceType(rawValue: rawType) else { throw .unknownDeviceType(rawType) }
        let name: FixedText<64> = try text(.deviceName)
        let slug: FixedText<64> = try text(.deviceSlug)
        let os: FixedText<64> = try text(.osVersion)
        let app: FixedText<32> = try text(.appVersion)
        let info = DeviceInfo(deviceID: id, name: name, slug: slug, type: type, osVersion: os, appVersion: app)
        do { try info.validate() } catch {
            switch error {
            case .invalid(.name): throw .invalidText(field: .deviceName)
            case .invalid(.slug): throw .invalidText(field: .deviceSlug)
            case .invalid(.osVersion): throw .invalidText(field: .osVersion)
            case .invalid(.appVersion): throw .invalidText(field: .appVersion)
            }
        }
        return info
    }
}

extension MessageCodec {
    /// DeviceInfo in the pairing messages' encoding, for other records that carry it (the DHT advertisement).
    public static func encodeDeviceInfo(_ info: DeviceInfo, into writer: inout ByteWriter) throws(WireError) {
        try encode(info, into: &writer)
    }

    /// Reads a DeviceInfo written by `encodeDeviceInfo`; returns it and the bytes it used.
    public static func decodeDeviceInfo(_ bytes: UnsafeRawBufferPointer) throws(MessageDecodeError) -> (DeviceInfo, Int) {
        var reader = MessageReader(ByteReader(bytes))
        let info = try reader.deviceInfo()
        return (info, reader.base.offset)
    }
}
