/// libsodium declares its input pointers non-null even for zero-length inputs, while an empty Swift buffer may have
/// no base address. These give a valid pointer in every case (for empty input, to a static byte never read).
extension UnsafeRawBufferPointer {
    var bytes: UnsafePointer<UInt8> {
        guard let base = baseAddress else { return Self.emptyInput }
        return base.assumingMemoryBound(to: UInt8.self)
    }

    private static var emptyInput: UnsafePointer<UInt8> { ("" as StaticString).utf8Start }
}

extension UnsafeMutableRawBufferPointer {
    /// The start of a non-empty output buffer. Callers only pass buffers they have sized for the operation.
    var bytes: UnsafeMutablePointer<UInt8> { baseAddress!.assumingMemoryBound(to: UInt8.self) }
}
