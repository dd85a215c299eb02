// UTF8Validation.swift — strict UTF-8 checking (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), used on every record before it becomes a `String`.

/// The length of the valid UTF-8 sequence starting at `bytes[0]`, whose first byte is
/// at least 0x80, or nil if it is not valid. `available` is how many bytes may be read.
@inline(__always)
func utf8SequenceLength(_ bytes: UnsafePointer<UInt8>, available: Int) -> Int? {
    let lead = bytes[0]
    @inline(__always) func continuation(_ index: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
        index < available && bytes[index] >= low && bytes[index] <= high
    }
    switch lead {
    case 0xC2...0xDF:
        return continuation(1) ? 2 : nil
    case 0xE0:
        return continuation(1, 0xA0) && continuation(2) ? 3 : nil
    case 0xE1...0xEC, 0xEE...0xEF:
        return continuation(1) && continuation(2) ? 3 : nil
    case 0xED:
        return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : nil
    case 0xF0:
        return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : nil
    case 0xF1...0xF3:
        return continuation(1) && continuation(2) && continuation(3) ? 4 : nil
    case 0xF4:
        return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : nil
    default:
        return nil
    }
}

/// True when `bytes` are entirely valid UTF-8.
func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    var index = 0
    let count = bytes.count
    while index < count {
        if base[index] < 0x80 {
            index += 1
            continue
        }
        guard let length = utf8SequenceLength(base + index, available: count - index) else { return false }
        index += length
    }
    return true
}
