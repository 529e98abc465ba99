import Wire

/// What kind of device this is (Spacedrive's `DeviceType`); one byte on the wire.
public enum DeviceType: UInt8, Sendable {
    case desktop = 1
    case laptop = 2
    case mobile = 3
    case server = 4
    case other = 5

    public var name: String {
        switch self {
        case .desktop: "desktop"
        case .laptop: "laptop"
        case .mobile: "mobile"
        case .server: "server"
        case .other: "other"
        }
    }

    public init?(name: String) {
        for candidate in [DeviceType.desktop, .laptop, .mobile, .server, .other] where candidate.name.utf8.elementsEqual(name.utf8) {
            self = candidate
            return
        }
        return nil
    }
}

/// A device's stable identifier, kept in its state directory. Shown as a UUID.
public struct DeviceID: Equatable, Sendable {
    public var bytes: FixedBytes<16>
    public init(bytes: FixedBytes<16>) { self.bytes = bytes }
    public var uuidString: String { Hex.uuidString(bytes) }
}

/// The public description a device gives of itself during pairing (Spacedrive's `DeviceInfo`).
///
/// Limits are in bytes of UTF-8 and are checked on construction and on decode. Text may not contain control
/// characters (C0, DEL, C1): these strings end up on terminals, small displays and logs of the other device,
/// where an escape sequence from a hostile peer would be an injection.
public struct DeviceInfo: Equatable, Sendable {
    /// Long enough for any real host or product name, short enough for a 4-line display to page through.
    /// What a joiner puts in its `PairingRequest` instead of its own description: the request goes to whoever
    /// answered discovery, before that peer has proved it holds the code, so it must not learn the joiner's device
    /// id, name, OS or app version (security review finding 7). The real description travels in the `Response`,
    /// which is sent only after the initiator's proof verified. All-zero id, type other, name and slug "-".
    public static var withheld: DeviceInfo {
        DeviceInfo(
            deviceID: DeviceID(bytes: FixedBytes()), name: try! FixedText("-"), slug: try! FixedText("-"), type: .other,
            osVersion: FixedText(), appVersion: FixedText())
    }

    public static let maxNameLength = 64
    public static let maxSlugLength = 64
    public static let maxOSVersionLength = 64
    public static let maxAppVersionLength = 32

    public var deviceID: DeviceID
    public var name: FixedText<64>
    /// Lowercase ASCII letters, digits and '-', as in Spacedrive; derived from the name when not given.
    public var slug: FixedText<64>
    public var type: DeviceType
    public var osVersion: FixedText<64>
    public var appVersion: FixedText<32>

    public init(
        deviceID: DeviceID, name: FixedText<64>, slug: FixedText<64>, type: DeviceType, osVersion: FixedText<64>,
        appVersion: FixedText<32>
    ) {
        self.deviceID = deviceID
        self.name = name
        self.slug = slug
        self.type = type
        self.osVersion = osVersion
        self.appVersion = appVersion
    }

    /// Builds a validated `DeviceInfo` from strings, deriving the slug from the name.
    public static func make(
        deviceID: DeviceID, name: String, type: DeviceType, osVersion: String, appVersion: String
    ) throws(DeviceInfoError) -> DeviceInfo {
        let info = DeviceInfo(
            deviceID: deviceID, name: try text(name, .name), slug: try text(slug(for: name), .slug), type: type,
            osVersion: try text(osVersion, .osVersion), appVersion: try text(appVersion, .appVersion))
        try info.validate()
        return info
    }

    static func text<let n: Int>(_ s: String, _ field: DeviceInfoField) throws(DeviceInfoError) -> FixedText<n> {
        do { return try FixedText<n>(s) } catch { throw .invalid(field) }
    }

    /// Checks the rules the decoder enforces, so that whatever we send, the peer accepts.
    public func validate() throws(DeviceInfoError) {
        if name.isEmpty { throw .invalid(.name) }
        if !Self.isCleanText(name) { throw .invalid(.name) }
        if slug.isEmpty || !Self.isSlug(slug) { throw .invalid(.slug) }
        if !Self.isCleanText(osVersion) { throw .invalid(.osVersion) }
        if !Self.isCleanText(appVersion) { throw .invalid(.appVersion) }
    }

    /// Names and versions come from the other device: the network's text rule (`UntrustedText`) applies.
    static func isCleanText<let n: Int>(_ text: FixedText<n>) -> Bool {
        text.withUnsafeBytes { UntrustedText.isClean($0) }
    }

    static func isSlug<let n: Int>(_ text: FixedText<n>) -> Bool {
        text.withUnsafeBytes { raw in
            for c in raw {
                let ok = (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                    || c == UInt8(ascii: "-")
                if !ok { return false }
            }
            return true
        }
    }

    /// Lowercase ASCII letters and digits of the name, other runs turned into single '-', trimmed; "device" if
    /// nothing is left.
    public static func slug(for name: String) -> String {
        var out = ""
        var pendingDash = false
        for c in name.utf8 {
            var lower = c
            if c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") { lower = c + 32 }
            let keep = (lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z")) || (lower >= UInt8(ascii: "0") && lower <= UInt8(ascii: "9"))
            if keep {
                if pendingDash && !out.isEmpty { out += "-" }
                pendingDash = false
                if out.utf8.count >= maxSlugLength - 1 { break }
                out.unicodeScalars.append(Unicode.Scalar(lower))
            } else {
                pendingDash = true
            }
        }
        return out.isEmpty ? "device" : out
    }
}

public enum DeviceInfoField: UInt8, Sendable {
    case name, slug, osVersion, appVersion
    public var label: String {
        switch self {
        case .name: "device name"
        case .slug: "device slug"
        case .osVersion: "OS version"
        case .appVersion: "app version"
        }
    }
}

public enum DeviceInfoError: Error, Equatable, Sendable {
    case invalid(DeviceInfoField)
}
