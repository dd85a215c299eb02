// LoadedTokenizer.swift — the tokenizer a command line names: `byte` for the byte tokenizer,
// or a Hugging Face `tokenizer.json` (or a directory holding one), together with the identity
// a token directory's manifest records (the SHA-256 of the very bytes that were parsed).

import Foundation
import TaipanTokenizers

/// A tokenizer opened from its command-line name, and its identity.
public struct LoadedTokenizer: Sendable {
    public let tokenizer: any Tokenizer
    public let identity: TokenizerIdentity

    /// The name that stands for the byte tokenizer.
    public static let byteName = "byte"

    /// Opens `name`: `byte`, a `tokenizer.json`, or a directory holding `tokenizer.json`.
    /// Throws `TokenizerError.invalidFile` naming the file (and the key at fault) otherwise.
    public init(named name: String) throws {
        if name == Self.byteName {
            let byte = ByteTokenizer()
            tokenizer = byte
            identity = TokenizerIdentity(
                name: Self.byteName, sha256: SHA256.hash(Array(Self.byteName.utf8)),
                vocabularySize: byte.vocabularySize, endOfText: byte.endOfText)
            return
        }
        var path = name
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError.invalidFile(
                path: path, reason: "no such file or directory (give a tokenizer.json, a directory holding one, or '\(Self.byteName)')")
        }
        if isDirectory.boolValue { path = (path as NSString).appendingPathComponent("tokenizer.json") }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw TokenizerError.invalidFile(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let bpe = try BPETokenizer(try TokenizerFile(json: bytes, path: path), path: path)
        tokenizer = bpe
        identity = TokenizerIdentity(
            name: path, sha256: SHA256.hash(bytes), vocabularySize: bpe.vocabularySize, endOfText: bpe.endOfText)
    }
}
