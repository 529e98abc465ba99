import Wire

/// Hex text → bytes, for test vectors (traps on malformed literals: they are the test's own constants).
public func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

public func fixed<let n: Int>(_ s: String) -> FixedBytes<n> { FixedBytes<n>(hex(s))! }
