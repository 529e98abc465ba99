import Crypto
import EventLoop
import Pairing

extension InitiatorWindow where Random == SystemRandom {
    /// A window with a fresh code, starting now. The words returned are the only copy of the code that outlives
    /// this call (the code's secrets live on inside the window and are wiped when it ends); the caller wipes them
    /// once shown.
    /// `short`: a 12-digit code (ShortCode) instead of the 12 words.
    public static func open(device: DeviceInfo, policy: WindowPolicy, short: Bool = false) -> (window: InitiatorWindow<SystemRandom>, words: CodeWords) {
        var rng = SystemRandom()
        var code = short ? PairingCode(short: ShortCode.generate(using: &rng)) : PairingCode.generate(using: &rng)
        defer { code.wipe() }
        let window = InitiatorWindow(
            code: code, localDevice: device, policy: policy, now: Instant(milliseconds: MonotonicClock.milliseconds()), random: SystemRandom())
        return (window, code.spelled)
    }
}
