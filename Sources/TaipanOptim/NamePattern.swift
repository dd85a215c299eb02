// NamePattern.swift — parameter-name patterns with `*` wildcards (`*.A_log`, `*norm*`), used to
// choose which parameters get weight decay and which are frozen.

/// A pattern over dotted parameter names; `*` matches any run of characters (dots included).
public struct NamePattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    private let pieces: [Substring]

    public init(_ text: String) {
        self.text = text
        pieces = text.split(separator: "*", omittingEmptySubsequences: false)
    }

    public var description: String { text }

    /// Whether `name` matches the whole pattern.
    public func matches(_ name: String) -> Bool {
        guard pieces.count > 1 else { return name == text }
        var rest = Substring(name)
        guard rest.hasPrefix(pieces[0]) else { return false }
        rest = rest.dropFirst(pieces[0].count)
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let found = rest.range(of: piece) else { return false }
            rest = rest[found.upperBound...]
        }
        return rest.hasSuffix(pieces[pieces.count - 1])
    }
}

extension Array where Element == NamePattern {
    /// Whether any pattern matches `name`.
    public func anyMatches(_ name: String) -> Bool { contains { $0.matches(name) } }
}
