// JSONFieldExtractor.swift — a validating JSON (RFC 8259) scanner for one JSON Lines record
// that keeps only the string values at a few key paths (`text`, `meta.pile_set_name`) and
// skips everything else without building it. Invalid UTF-8 anywhere in the record is an error.

#if canImport(Glibc)
import Glibc
#endif

/// What a record held at one requested key path.
public enum JSONField: Equatable, Sendable {
    case missing
    case string(String)
    /// A value that is not a string (number, object, array, true, false, null).
    case notString
}

/// Why a record is not valid JSON (or not valid UTF-8).
struct JSONScanError: Error {
    enum Kind { case syntax, invalidUTF8 }
    let kind: Kind
    let message: String
    let offset: Int
}

/// Extracts the string values at fixed key paths from JSON object records.
public struct JSONFieldExtractor: Sendable {
    /// The requested paths, each a list of object keys as UTF-8 bytes.
    private let paths: [[[UInt8]]]
    private static let maximumDepth = 256

    /// Extracts the values at `paths`, each a dotted key path such as `meta.pile_set_name`.
    public init(paths: [String]) {
        self.paths = paths.map { $0.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) } }
    }

    /// Scans one record and returns what it holds at each requested path, in order.
    func extract(_ record: UnsafeBufferPointer<UInt8>) throws(JSONScanError) -> [JSONField] {
        guard let base = record.baseAddress, record.count > 0 else {
            throw JSONScanError(kind: .syntax, message: "empty record", offset: 0)
        }
        var scanner = Scanner(base: base, count: record.count, paths: paths)
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "{") else { throw scanner.error("a record must be a JSON object") }
        try scanner.value(depth: 0, matching: Array(paths.indices))
        scanner.skipWhitespace()
        if scanner.position < record.count { throw scanner.error("unexpected text after the JSON object") }
        return scanner.fields
    }

    private struct Scanner {
        let base: UnsafePointer<UInt8>
        let count: Int
        let paths: [[[UInt8]]]
        var position = 0
        var fields: [JSONField]
        var scratch: [UInt8] = []

        init(base: UnsafePointer<UInt8>, count: Int, paths: [[[UInt8]]]) {
            self.base = base
            self.count = count
            self.paths = paths
            fields = Array(repeating: .missing, count: paths.count)
        }

        func peek() -> UInt8? { position < count ? base[position] : nil }

        func error(_ message: String, _ kind: JSONScanError.Kind = .syntax) -> JSONScanError {
            JSONScanError(kind: kind, message: message, offset: position)
        }

        mutating func skipWhitespace() {
            while position < count {
                switch base[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        /// Scans one value; `matching` lists the paths whose first `depth` keys led here.
        mutating func value(depth: Int, matching: [Int]) throws(JSONScanError) {
            skipWhitespace()
            guard let byte = peek() else { throw error("unexpected end of the record") }
            if depth > JSONFieldExtractor.maximumDepth { throw error("nesting deeper than \(JSONFieldExtractor.maximumDepth)") }
            switch byte {
            case UInt8(ascii: "{"): try object(depth: depth, matching: matching)
            case UInt8(ascii: "["):
                position += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") { position += 1; return }
                while true {
                    try value(depth: depth + 1, matching: [])
                    skipWhitespace()
                    guard let next = peek() else { throw error("unterminated array") }
                    position += 1
                    if next == UInt8(ascii: "]") { return }
                    if next != UInt8(ascii: ",") { throw error("expected ',' or ']' in an array") }
                }
            case UInt8(ascii: "\""): _ = try string(capture: false)
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try number()
            }
        }

        mutating func object(depth: Int, matching: [Int]) throws(JSONScanError) {
            position += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") { position += 1; return }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key in an object") }
                let keyStart = position + 1
                _ = try string(capture: false)
                let keyEnd = position - 1
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
                position += 1
                var deeper: [Int] = []
                var captured: Int? = nil
                for index in matching where keyMatches(paths[index][depth], keyStart, keyEnd) {
                    if paths[index].count == depth + 1 { captured = index } else { deeper.append(index) }
                }
                if let captured {
                    skipWhitespace()
                    if peek() == UInt8(ascii: "\"") {
                        fields[captured] = .string(try string(capture: true) ?? "")
                    } else {
                        try value(depth: depth + 1, matching: deeper)
                        fields[captured] = .notString
                    }
                } else {
                    try value(depth: depth + 1, matching: deeper)
                }
                skipWhitespace()
                guard let next = peek() else { throw error("unterminated object") }
                position += 1
                if next == UInt8(ascii: "}") { return }
                if next != UInt8(ascii: ",") { throw error("expected ',' or '}' in an object") }
            }
        }

        /// Compares a raw key (between its quotes) with a wanted key; escaped keys never match.
        func keyMatches(_ wanted: [UInt8], _ start: Int, _ end: Int) -> Bool {
            guard end - start == wanted.count else { return false }
            for offset in 0..<wanted.count where base[start + offset] != wanted[offset] { return false }
            return true
        }

        mutating func literal(_ word: StaticString) throws(JSONScanError) {
            let length = word.utf8CodeUnitCount
            guard count - position >= length, memcmp(base + position, word.utf8Start, length) == 0 else {
                throw error("invalid literal")
            }
            position += length
        }

        mutating func number() throws(JSONScanError) {
            func digits(_ scanner: inout Scanner) -> Int {
                let start = scanner.position
                while let byte = scanner.peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { scanner.position += 1 }
                return scanner.position - start
            }
            if peek() == UInt8(ascii: "-") { position += 1 }
            if peek() == UInt8(ascii: "0") {
                position += 1
            } else if digits(&self) == 0 {
                throw error("invalid value")
            }
            if peek() == UInt8(ascii: ".") {
                position += 1
                if digits(&self) == 0 { throw error("invalid number: no digits after '.'") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                position += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
                if digits(&self) == 0 { throw error("invalid number: no digits in the exponent") }
            }
        }

        /// Scans a string starting at its opening quote; returns its value when `capture`.
        mutating func string(capture: Bool) throws(JSONScanError) -> String? {
            position += 1
            let start = position
            var escaped = false
            // Bytes since the last escape, copied to `scratch` in one piece.
            var runStart = position
            if capture { scratch.removeAll(keepingCapacity: true) }
            while true {
                guard position < count else { throw error("unterminated string") }
                let byte = base[position]
                if byte == UInt8(ascii: "\"") { break }
                if byte < 0x20 { throw error("unescaped control character in a string") }
                if byte == UInt8(ascii: "\\") {
                    if capture { scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: position - runStart)) }
                    escaped = true
                    try escape(capture: capture)
                    runStart = position
                    continue
                }
                if byte < 0x80 {
                    position += 1
                } else {
                    guard let length = utf8SequenceLength(base + position, available: count - position) else {
                        throw error("invalid UTF-8", .invalidUTF8)
                    }
                    position += length
                }
            }
            let end = position
            position += 1
            guard capture else { return nil }
            if escaped {
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: end - runStart))
                return String(decoding: scratch, as: UTF8.self)
            }
            return String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self)
        }

        /// Scans one backslash escape, appending its UTF-8 encoding to `scratch` when capturing.
        mutating func escape(capture: Bool) throws(JSONScanError) {
            position += 1
            guard let kind = peek() else { throw error("unterminated string") }
            position += 1
            let simple: UInt8?
            switch kind {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): simple = kind
            case UInt8(ascii: "b"): simple = 0x08
            case UInt8(ascii: "f"): simple = 0x0C
            case UInt8(ascii: "n"): simple = 0x0A
            case UInt8(ascii: "r"): simple = 0x0D
            case UInt8(ascii: "t"): simple = 0x09
            case UInt8(ascii: "u"): simple = nil
            default: throw error("invalid escape '\\\(Character(Unicode.Scalar(kind)))'")
            }
            if let simple {
                if capture { scratch.append(simple) }
                return
            }
            var scalar = try hexQuad()
            if (0xD800..<0xDC00).contains(scalar) {
                guard count - position >= 2, base[position] == UInt8(ascii: "\\"), base[position + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired UTF-16 surrogate escape")
                }
                position += 2
                let low = try hexQuad()
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired UTF-16 surrogate escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw error("unpaired UTF-16 surrogate escape")
            }
            if capture, let unicode = Unicode.Scalar(scalar) {
                scratch.append(contentsOf: unicode.utf8)
            }
        }

        mutating func hexQuad() throws(JSONScanError) -> UInt32 {
            guard count - position >= 4 else { throw error("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = base[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("invalid hex digit in a \\u escape")
                }
                value = value << 4 | UInt32(digit)
                position += 1
            }
            return value
        }
    }
}
