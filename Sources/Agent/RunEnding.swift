import Registry

/// What a pairing run says when it ends without a pairing that stands, sans-IO: the failure the run reports (the
/// command's last line and exit) and the reason its `failed` event carries. The node emits and finishes with what
/// these say; a wrong code and a network problem, or a refusal and a full disk, must never read alike.
public enum RunEnding {
    /// The exchange paired, but this side's registry answered `failure`. The board refuses a device id already
    /// recorded with another key (its `Complete` says so, and the joiner records nothing); any other failure is a
    /// pairing that could not be kept. (`deviceID`: the other device's.)
    public static func unrecorded(_ failure: RegistryFailure, board: Bool, deviceID: String) -> (event: String, outcome: String) {
        if board && failure == .deviceIDTaken {
            return ("refused: " + failure.message, "pairing refused: " + deviceID + ": " + failure.message)
        }
        return ("could not record the pairing: " + failure.message, "paired, but the pairing could not be recorded: " + failure.message)
    }

    /// A joiner's code expired before it paired: what the DHT path learnt names the likely cause. `found`: it opened
    /// the device's record; `unreachable`: the record lists only addresses private to the device's network;
    /// `relayFailure`: how the device's relay failed, if one was tried.
    public static func joinerExpired(found: Bool, unreachable: Bool, relayFailure: String?) -> String {
        let text = "pairing code expired before pairing completed"
        if unreachable {
            return text + ": the device was found through the DHT but is not reachable from outside its network (no port mapping on its router)"
        }
        guard found else { return text }
        return text + ": the device was found through the DHT but did not answer at its public address"
            + (relayFailure.map { ", and its relay " + $0 } ?? " (its log says whether its router maps or forwards the port)")
    }
}
