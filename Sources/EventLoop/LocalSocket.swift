import CSupport

/// Unix stream sockets: the daemon's control socket. Same conventions as the TCP calls: fds, `SystemError`s.
extension Net {
    /// A non-blocking listener at `path`, mode 0600. `.failure(EADDRINUSE)`: another agent answers there.
    public static func listenLocal(path: String) -> Result<Int32, SystemError> {
        let fd = path.withCString { sd_unix_listen($0) }
        return fd < 0 ? .failure(SystemError(-fd)) : .success(fd)
    }

    /// A connected, non-blocking fd. `.failure(ENOENT or ECONNREFUSED)`: nobody listens at `path`.
    public static func connectLocal(path: String) -> Result<Int32, SystemError> {
        let fd = path.withCString { sd_unix_connect($0) }
        return fd < 0 ? .failure(SystemError(-fd)) : .success(fd)
    }

    public static func removeFile(_ path: String) {
        _ = path.withCString { sd_unlink($0) }
    }
}
