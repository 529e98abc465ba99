import Crypto
import Transport
import Wire

/// IPNS records with an Ed25519 key (ipfs/specs `src/ipns/ipns-record.md`; boxo `ipns/`): the one record kind,
/// besides `/pk`, that the public IPFS DHT stores. Sans-IO: encode into and verify from caller buffers.
///
///     routing key = "/ipns/" ‖ identity multihash of the protobuf public key (00 24 08 01 12 20 ‖ key), 44 bytes
///     IpnsEntry   { value = 1; signatureV1 = 2; validityType = 3; validity = 4; sequence = 5; ttl = 6;
///                   pubKey = 7; signatureV2 = 8; data = 9 }                        (at most 10 KiB)
///     data        = DAG-CBOR map { TTL, Value, Sequence, Validity, ValidityType, and `_`-prefixed extras }
///     signatureV2 = Ed25519("ipns-signature:" ‖ data)
///     signatureV1 = Ed25519(value ‖ validity ‖ "EOL")   (legacy; older servers still require the V1 fields)
///
/// Time is the caller's business: `verify` checks everything but the end of life, which the caller compares with
/// its own clock and its own tolerance (Docs/PROTOCOL.md §"Clock").
public enum IPNSRecord {
    /// The spec's size limit for a record.
    public static let maxLength = 10 * 1024
    /// Our own records: a sealed advertisement (≤ 640 bytes) and ~330 bytes of IPNS around it.
    public static let ownMaxLength = 1_100
    /// The empty identity CID: the conventional Value of a record that carries its payload in `data`.
    public static let noOpValue: StaticString = "/ipfs/bafkqaaa"
    static let signaturePrefix: StaticString = "ipns-signature:"
    /// Where our payload travels inside `data` (the spec reserves `_`-prefixed keys for applications).
    static let applicationKey: StaticString = "_sdpair"
    public static let routingKeyLength = 6 + PeerID.byteLength

    public static func routingKey(_ publicKey: Ed25519.PublicKey) -> FixedBytes<44> {
        var key = FixedBytes<44>()
        let prefix: StaticString = "/ipns/"
        for i in 0..<6 { key[i] = prefix.utf8Start[i] }
        let name = PeerID(publicKey: publicKey).bytes
        for i in 0..<PeerID.byteLength { key[6 + i] = name[i] }
        return key
    }

    /// What a verified record says. Views into the record's buffer.
    public struct Fields {
        public var value: UnsafeRawBufferPointer
        /// The Validity text as signed.
        public var validityText: UnsafeRawBufferPointer
        /// End of life, seconds since the epoch (fraction dropped).
        public var endOfLife: UInt64
        public var sequence: UInt64
        public var ttlNanoseconds: UInt64
        /// Our `_sdpair` field, if present.
        public var application: UnsafeRawBufferPointer?
    }

    /// Encodes a V1+V2 record signed with `keys`. Returns the length, or nil when `out` is too small.
    public static func encode(
        keys: Ed25519.KeyPair, sequence: UInt64, endOfLife: UInt64, ttlNanoseconds: UInt64,
        application: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var validity = FixedBytes<20>()
        RFC3339.format(endOfLife, into: &validity)
        let value = UnsafeRawBufferPointer(start: noOpValue.utf8Start, count: noOpValue.utf8CodeUnitCount)
        // "ipns-signature:" ‖ data, built in one buffer so that data is signed where it was written.
        var signed = FixedBytes<1024>()
        let prefixLength = signaturePrefix.utf8CodeUnitCount
        let signedLength = signed.withUnsafeMutableBytes { raw in
            validity.withUnsafeBytes { v in writeSigned(raw, ttlNanoseconds, value, application, sequence, v) }
        }
        guard signedLength > prefixLength else { return nil }
        let signatureV2 = signed.withUnsafeBytes { Ed25519.sign(UnsafeRawBufferPointer(rebasing: $0[0..<signedLength]), with: keys.secretKey) }
        // V1 signs value ‖ validity ‖ "EOL" (the validity type's name, as go-ipfs wrote it).
        var legacy = FixedBytes<40>()
        let legacyLength = legacy.withUnsafeMutableBytes { raw in
            validity.withUnsafeBytes { v in concatenate(raw, value, v, UnsafeRawBufferPointer(start: eol.utf8Start, count: eol.utf8CodeUnitCount)) }
        }
        let signatureV1 = legacy.withUnsafeBytes { Ed25519.sign(UnsafeRawBufferPointer(rebasing: $0[0..<legacyLength]), with: keys.secretKey) }
        return signed.withUnsafeBytes { d in
            validity.withUnsafeBytes { v in
                signatureV1.bytes.withUnsafeBytes { s1 in
                    signatureV2.bytes.withUnsafeBytes { s2 in
                        writeEntry(out, value, s1, v, sequence, ttlNanoseconds, s2, UnsafeRawBufferPointer(rebasing: d[prefixLength..<signedLength]))
                    }
                }
            }
        }
    }

    static let eol: StaticString = "EOL"

    // Named functions, not closures: a typed do/catch in a closure is inferred as `any Error` (not in Embedded Swift).

    /// "ipns-signature:" ‖ the DAG-CBOR data, keys in DAG-CBOR order (length, then bytes). 0 when it does not fit.
    static func writeSigned(
        _ raw: UnsafeMutableRawBufferPointer, _ ttl: UInt64, _ value: UnsafeRawBufferPointer, _ application: UnsafeRawBufferPointer,
        _ sequence: UInt64, _ validity: UnsafeRawBufferPointer
    ) -> Int {
        var w = ByteWriter(raw)
        do {
            try w.write(signaturePrefix)
            try w.writeCBORHead(major: 5, 6)
            try w.writeCBORText("TTL"); try w.writeCBORHead(major: 0, ttl)
            try w.writeCBORText("Value"); try w.writeCBORBytes(value)
            try w.writeCBORText(applicationKey); try w.writeCBORBytes(application)
            try w.writeCBORText("Sequence"); try w.writeCBORHead(major: 0, sequence)
            try w.writeCBORText("Validity"); try w.writeCBORBytes(validity)
            try w.writeCBORText("ValidityType"); try w.writeCBORHead(major: 0, 0)
        } catch { return 0 }
        return w.count
    }

    static func concatenate(_ raw: UnsafeMutableRawBufferPointer, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ c: UnsafeRawBufferPointer) -> Int {
        var w = ByteWriter(raw)
        do {
            try w.write(a)
            try w.write(b)
            try w.write(c)
        } catch { return 0 }
        return w.count
    }

    static func writeEntry(
        _ out: UnsafeMutableRawBufferPointer, _ value: UnsafeRawBufferPointer, _ signatureV1: UnsafeRawBufferPointer, _ validity: UnsafeRawBufferPointer,
        _ sequence: UInt64, _ ttl: UInt64, _ signatureV2: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer
    ) -> Int? {
        var w = ByteWriter(out)
        do {
            try w.writeProtobufBytes(field: 1, value)
            try w.writeProtobufBytes(field: 2, signatureV1)
            try w.writeProtobufVarint(field: 3, 0)
            try w.writeProtobufBytes(field: 4, validity)
            try w.writeProtobufVarint(field: 5, sequence)
            try w.writeProtobufVarint(field: 6, ttl)
            try w.writeProtobufBytes(field: 8, signatureV2)
            try w.writeProtobufBytes(field: 9, data)
        } catch { return nil }
        return w.count
    }

    /// Verifies a record found under the routing key of `publicKey`, as a DHT node that follows the spec does
    /// (V2 signature over the DAG-CBOR data, the data's fields, legacy V1 fields matching it), except the end of
    /// life. The V1 signature is not checked: the V2 signature covers everything the V1 fields can say. Records
    /// over 2 KiB are refused as oversized here (ours are ≤ `ownMaxLength`; the spec allows other records 10 KiB)
    /// so that the signed message fits one stack buffer.
    public static func verify(_ record: UnsafeRawBufferPointer, publicKey: Ed25519.PublicKey) throws(IPNSError) -> Fields {
        guard record.count <= readableLength else { throw .oversized }
        let entry = try Entry(record)
        guard let signature = entry.signature, signature.count > 0 else { throw .missingSignatureV2 }
        guard let data = entry.data, data.count > 0 else { throw .missingData }
        if let embeddedKey = entry.publicKey {
            // Optional for Ed25519; when present it must be the key the name is made of.
            var expected = FixedBytes<36>()
            _ = expected.withUnsafeMutableBytes { PublicKeyProtobuf.encode(publicKey, into: $0) }
            guard expected.withUnsafeBytes({ $0.sameBytes(as: embeddedKey) }) else { throw .keyMismatch }
        }
        guard verifySignatureV2(signature, data, publicKey) else { throw .badSignature }
        let fields = try dataFields(data)
        // Legacy fields, when present, must say what the signed data says (boxo, py-libp2p: same rule).
        if let v = entry.value, v.count > 0, !v.sameBytes(as: fields.value) { throw .v1Mismatch }
        if let v = entry.validity, v.count > 0, !v.sameBytes(as: fields.validityText) { throw .v1Mismatch }
        if entry.sequence != 0, entry.sequence != fields.sequence { throw .v1Mismatch }
        if entry.ttl != 0, entry.ttl != fields.ttlNanoseconds { throw .v1Mismatch }
        return fields
    }

    public static let readableLength = 2_048

    /// The protobuf fields we look at (views into the record).
    struct Entry {
        var value: UnsafeRawBufferPointer? = nil
        var validity: UnsafeRawBufferPointer? = nil
        var sequence: UInt64 = 0
        var ttl: UInt64 = 0
        var publicKey: UnsafeRawBufferPointer? = nil
        var signature: UnsafeRawBufferPointer? = nil
        var data: UnsafeRawBufferPointer? = nil

        init(_ record: UnsafeRawBufferPointer) throws(IPNSError) {
            var pb = ProtobufReader(record)
            while true {
                let next: ProtobufField?
                do { next = try pb.next() } catch { throw .malformed }
                guard let field = next else { return }
                switch (field.number, field.value) {
                case (1, .bytes(let b)): value = b
                case (2, .bytes): break  // signatureV1: not checked (see verify)
                case (3, .varint): break  // validityType: the data's copy rules
                case (4, .bytes(let b)): validity = b
                case (5, .varint(let n)): sequence = n
                case (6, .varint(let n)): ttl = n
                case (7, .bytes(let b)): publicKey = b
                case (8, .bytes(let b)): signature = b
                case (9, .bytes(let b)): data = b
                case (1...9, _): throw .malformed  // a known field with the wrong wire type
                default: break  // unknown fields are skipped, as protobuf requires
                }
            }
        }
    }

    public static func dataFields(_ data: UnsafeRawBufferPointer) throws(IPNSError) -> Fields {
        var fields = Fields(
            value: UnsafeRawBufferPointer(start: nil, count: 0), validityText: UnsafeRawBufferPointer(start: nil, count: 0),
            endOfLife: 0, sequence: 0, ttlNanoseconds: 0, application: nil)
        var seen = 0
        var map: CBORMapReader
        do { map = try CBORMapReader(data) } catch { throw .badData }
        while true {
            let next: (key: UnsafeRawBufferPointer, value: CBORValue)?
            do { next = try map.next() } catch { throw .badData }
            guard let (key, value) = next else { break }
            if key.isExactly("Value") {
                guard case .bytes(let b) = value else { throw .badField }
                fields.value = b
                seen |= 1
            } else if key.isExactly("Validity") {
                guard case .bytes(let b) = value, let eol = RFC3339.parse(b) else { throw .badValidity }
                fields.validityText = b
                fields.endOfLife = eol
                seen |= 2
            } else if key.isExactly("ValidityType") {
                guard case .unsigned(let t) = value else { throw .badField }
                guard t == 0 else { throw .unsupportedValidityType }
                seen |= 4
            } else if key.isExactly("Sequence") {
                guard case .unsigned(let n) = value else { throw .badField }
                fields.sequence = n
                seen |= 8
            } else if key.isExactly("TTL") {
                guard case .unsigned(let n) = value else { throw .badField }
                fields.ttlNanoseconds = n
            } else if key.isExactly(applicationKey) {
                guard case .bytes(let b) = value else { throw .badField }
                fields.application = b
            }  // other keys: the spec says ignore
        }
        guard seen == 15 else { throw .missingField }
        return fields
    }

    static func verifySignatureV2(_ signature: UnsafeRawBufferPointer, _ data: UnsafeRawBufferPointer, _ key: Ed25519.PublicKey) -> Bool {
        guard let sig = FixedBytes<64>(copying: signature) else { return false }
        // The signed message is prefix ‖ data, and libsodium wants it contiguous.
        var message = FixedBytes<2_064>()
        let prefixLength = signaturePrefix.utf8CodeUnitCount
        guard prefixLength + data.count <= 2_064 else { return false }
        return message.withUnsafeMutableBytes { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: signaturePrefix.utf8Start, count: prefixLength))
            UnsafeMutableRawBufferPointer(rebasing: raw[prefixLength...]).copyMemory(from: data)
            return Ed25519.isValidSignature(Ed25519.Signature(bytes: sig), of: UnsafeRawBufferPointer(rebasing: raw[0..<(prefixLength + data.count)]), by: key)
        }
    }
}

public enum IPNSError: Error, Equatable, Sendable {
    case oversized
    case malformed
    case missingSignatureV2
    case missingData
    case keyMismatch
    case badSignature
    case badData
    case badField
    case missingField
    case badValidity
    case unsupportedValidityType
    case v1Mismatch

    /// Two messages for a log line: whoever served the record is not ours to debug, only to ignore.
    public var text: String {
        switch self {
        case .keyMismatch, .badSignature, .v1Mismatch: "IPNS record's signature does not verify"
        default: "malformed IPNS record"
        }
    }
}
