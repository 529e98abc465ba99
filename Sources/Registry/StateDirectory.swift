import CSupport

/// The state directory holds the identity key and the paired devices' keys, so it is trusted only when nobody else
/// could have put anything in it (`sd_check_state_dir`). This names each problem and its fix in one line.
public enum StateDirectory {
    public static func problem(_ path: String, _ code: Int32) -> String {
        switch code {
        case SD_EOWNER: "state directory " + path + " belongs to another user; an identity or socket there could be planted. Use a directory of your own (--state-dir), or run as its owner"
        case SD_EMODE: "state directory " + path + " can be written by other users; make it private (chmod 700 " + path + ") or use another --state-dir"
        case ENOTDIR: "cannot use state directory " + path + ": it, or a part of its path, is not a directory"
        case EACCES: "cannot use state directory " + path + ": permission denied (run as its owner or root, or use --state-dir)"
        default: "cannot use state directory " + path + " (errno " + String(code) + ")"
        }
    }

    /// The directory's owner when it passes the check, else the problem in words.
    public static func check(_ path: String) -> Result<UInt32, StateDirectoryError> {
        var owner: UInt32 = 0
        let rc = path.withCString { sd_check_state_dir($0, &owner) }
        return rc < 0 ? .failure(StateDirectoryError(message: problem(path, -rc))) : .success(owner)
    }
}

public struct StateDirectoryError: Error, Equatable {
    public var message: String
}
