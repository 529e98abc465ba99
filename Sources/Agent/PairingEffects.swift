import Pairing
import Registry
import Wire

/// What one step of a pairing exchange means for the run, sans-IO: which line the log says, which event a UI hears,
/// whether the run (or the daemon's window) ends and with what words, and when the registry is written. The pairing
/// state machines (`InitiatorWindow`, `JoinerSession`) decide what the exchange says on the wire; these decide what
/// the agent around them does with it. The node carries each effect out (log, emit, finish, record, close), in the
/// order the effect names.
public enum PairingEffects {
    /// The board's side of one step (a `paired` step records first: `confirmation`).
    public enum Initiator: Equatable {
        case none
        /// The connection proved it holds the code and has been challenged: it is kept over connections that have
        /// not proved it when the table is full (`Admission`), and the UI hears `challengeSent`.
        case proven
        /// A refusal, logged after the connection's address; `event`, if any, for the UI; `ending`: the last allowed
        /// failure burnt the code, and the window ends with these words.
        case refused(line: String, event: PairingEvent?, ending: String?)
    }

    @inline(__always)
    public static func initiator(_ event: InitiatorEvent) -> Initiator {
        switch event {
        case .paired, .expired:
            // `paired` is recorded and announced before its confirmation is sent; expiry comes from `tick`.
            return .none
        case .challengeSent:
            return .proven
        case .attemptFailed(let reason, let remaining):
            return .refused(line: "pairing attempt refused: " + reason.description + " (" + String(remaining) + " attempts left)",
                event: .attemptFailed(reason: reason.description, remaining: remaining), ending: nil)
        case .rejected(let reason):
            return .refused(line: "pairing request refused: " + reason.description, event: nil, ending: nil)
        case .burned(let reason):
            return .refused(line: "pairing attempt refused: " + reason.description, event: .failed(reason: "code disabled after too many failed attempts"),
                ending: "pairing code disabled after too many failed attempts; start a new pairing")
        }
    }

    /// What the board's `Complete` says after the registry answered (nil: recorded, success). Record before
    /// confirming: a pairing the board could not keep, the joiner must not keep either.
    @inline(__always)
    public static func confirmation(_ failure: RegistryFailure?) -> RejectReason? {
        guard let failure else { return nil }
        return failure == .deviceIDTaken ? .deviceIDTaken : .storageFailed
    }

    /// The joiner's side of one step, on one candidate's connection.
    public enum Joiner: Equatable {
        case none
        /// News for the UI, nothing else.
        case emit(PairingEvent)
        /// The device proved the code, so it is the one: the other candidates close, and the UI hears its name.
        case authentic(deviceName: String)
        /// Paired: the other candidates close, the registry is written, and only then does our end of the stream
        /// close: cleanly when recorded (the board takes that as "kept there too"), with a reset when not.
        case record
        /// Discovery: this candidate is not the device (or not honest); close it and keep looking.
        case candidateOut(reason: String)
        /// The run ends: the UI hears `event`, the run's last line says `outcome`.
        case end(event: PairingEvent, outcome: String)
    }

    /// `discovering`: the joiner looks for the device (mDNS, the DHT) rather than dialling one given address; then a
    /// candidate that fails is one of several, not the end.
    @inline(__always)
    public static func joiner(_ event: JoinerEvent, discovering: @autoclosure () -> Bool) -> Joiner {
        switch event {
        case .paired:
            return .record
        case .candidateFailed(let why):
            return discovering() ? .candidateOut(reason: why.description) : .end(event: .failed(reason: why.description), outcome: why.description)
        case .failed(let why):
            return .end(event: .failed(reason: why.description), outcome: why.description)
        case .expired:
            return .end(event: .expired, outcome: RunEnding.codeExpired)
        case .challengeAccepted(let info):
            return .authentic(deviceName: info.name.string)
        case .stateChanged(let state):
            return PairingEvent(joinerState: state).map { .emit($0) } ?? .none
        }
    }
}
