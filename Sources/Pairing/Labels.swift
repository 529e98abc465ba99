/// Every domain-separation string of protocol v1, in one place so that Docs/PROTOCOL.md can cite them verbatim.
/// Each is ASCII and is always followed by fixed-length fields, so no two inputs can be confused.
enum Labels {
    /// HKDF salt for every key derived from the code's entropy.
    static let codeSalt: StaticString = "sd-pair/v1"
    static let sessionID: StaticString = "sd-pair/v1/session-id"
    static let advertKey: StaticString = "sd-pair/v1/advert-key"
    static let ipnsKey: StaticString = "sd-pair/v1/ipns-key"
    static let confirmKey: StaticString = "sd-pair/v1/confirm-key"
    static let codeSecret: StaticString = "sd-pair/v1/code-secret"
    static let joinerProof: StaticString = "sd-pair/v1/joiner-proof"
    static let initiatorProof: StaticString = "sd-pair/v1/initiator-proof"
    static let challengeSignature: StaticString = "sd-pair/v1/challenge"
    static let sessionKeys: StaticString = "sd-pair/v1/session-keys"
    /// HKDF salt of the short code's session id and of the keys each connection's PAKE yields.
    static let shortSalt: StaticString = "sd-pair/v1/short"
}

extension StaticString {
    var rawBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: utf8Start, count: utf8CodeUnitCount) }
}
