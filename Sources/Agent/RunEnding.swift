import Registry
import Wire

/// How a pairing run or a daemon's window ends, sans-IO: the failure the run reports (the command's last line and
/// exit) and the reason its `failed` event carries, what a closed window says, and when a finished run stops. The
/// node emits and finishes with what these say; a wrong code and a network problem, or a refusal and a full disk,
/// must never read alike.
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

    /// A code that expired ends a run (or a window) with these words, first in its line; `isCodeExpiry` is how the
    /// ones that read a run's end (an `invite` client, the embedding library) tell an expiry from a failure.
    public static var codeExpired: String { "pairing code expired" }

    public static func isCodeExpiry(_ text: String) -> Bool { text.startsWithExactly("pairing code expired") }

    /// A daemon's window closed and the daemon goes on: the line its log says, and what the `invite` client that
    /// asked for the window hears (nil for a pairing: that client heard when it was recorded). Nil for an end that is
    /// not a window's (the run's own interruption).
    @inline(__always)
    public static func windowClosed(_ result: NodeOutcome) -> (line: String, reply: String?)? {
        switch result {
        case .paired: return ("pairing window closed: paired", nil)
        case .failed(let why): return ("pairing window closed: " + why, why)
        case .pinged, .interrupted: return nil
        }
    }

    /// Whether a run that has its outcome stops now: once its last bytes are out and no pairing it recorded waits for
    /// the joiner's confirmation, or at `lingerUntil` (`AgentLimits.lingerMilliseconds` after the outcome) whatever
    /// is left (an unconfirmed pairing is then warned about).
    @inline(__always)
    public static func stops(now: UInt64, lingerUntil: UInt64, pendingOutput: @autoclosure () -> Bool, awaitingConfirmation: @autoclosure () -> Bool) -> Bool {
        now >= lingerUntil || (!pendingOutput() && !awaitingConfirmation())
    }

    /// A joiner's code expired before it paired: what the DHT path learnt names the likely cause. `found`: it opened
    /// the device's record; `unreachable`: the record lists only addresses private to the device's network;
    /// `relayFailure`: how the device's relay failed, if one was tried.
    public static func joinerExpired(found: Bool, unreachable: Bool, relayFailure: String?) -> String {
        let text = codeExpired + " before pairing completed"
        if unreachable {
            return text + ": the device was found through the DHT but is not reachable from outside its network (no port mapping on its router)"
        }
        guard found else { return text }
        return text + ": the device was found through the DHT but did not answer at its public address"
            + (relayFailure.map { ", and its relay " + $0 } ?? " (its log says whether its router maps or forwards the port)")
    }
}
