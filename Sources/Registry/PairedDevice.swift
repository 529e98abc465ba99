import Crypto
import Pairing
import Wire

/// One device this device has paired with, as the registry keeps it.
public struct PairedDevice: Sendable {
    public var deviceID: DeviceID
    public var type: DeviceType
    public var name: FixedText<64>
    public var osVersion: FixedText<64>
    public var appVersion: FixedText<32>
    public var publicKey: Ed25519.PublicKey
    /// Keys from the local side's view: what we send with, what we receive with.
    public var sendKey: SymmetricKey
    public var receiveKey: SymmetricKey
    /// Unix seconds, for people; nothing depends on it.
    public var pairedAt: Int64

    public init(peer: PairedPeer, pairedAt: Int64) {
        deviceID = peer.deviceInfo.deviceID
        type = peer.deviceInfo.type
        name = peer.deviceInfo.name
        osVersion = peer.deviceInfo.osVersion
        appVersion = peer.deviceInfo.appVersion
        publicKey = peer.publicKey
        sendKey = peer.sessionKeys.sendKey
        receiveKey = peer.sessionKeys.receiveKey
        self.pairedAt = pairedAt
    }

    public init(
        deviceID: DeviceID, type: DeviceType, name: FixedText<64>, osVersion: FixedText<64>, appVersion: FixedText<32>,
        publicKey: Ed25519.PublicKey, sendKey: SymmetricKey, receiveKey: SymmetricKey, pairedAt: Int64
    ) {
        self.deviceID = deviceID
        self.type = type
        self.name = name
        self.osVersion = osVersion
        self.appVersion = appVersion
        self.publicKey = publicKey
        self.sendKey = sendKey
        self.receiveKey = receiveKey
        self.pairedAt = pairedAt
    }

    public mutating func wipe() {
        sendKey.wipe()
        receiveKey.wipe()
    }
}
