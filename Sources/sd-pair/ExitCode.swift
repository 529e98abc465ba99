/// The process exit codes, documented in `sd-pair --help` and Docs/OPERATIONS.md.
enum ExitCode: Int32 {
    case success = 0
    /// Pairing did not complete (refused, expired, wrong code at the peer).
    case pairingFailed = 1
    /// Bad command line or bad pairing code; nothing was done.
    case usage = 2
    /// The environment is unusable (libsodium could not start, an output could not be written).
    case environment = 3
    /// Stopped by SIGINT or SIGTERM.
    case interrupted = 130
}
