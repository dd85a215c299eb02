// ByteLevel.swift — GPT-2's reversible map between the 256 byte values and 256 printable
// Unicode characters ("bytes_to_unicode" in OpenAI's GPT-2 encoder, the `ByteLevel`
// pre-tokenizer and decoder of Hugging Face `tokenizers`). Vocabulary entries of a byte-level
// BPE are strings of these characters; the space byte, for instance, is written `Ġ` (U+0120).

/// The byte ↔ character table of byte-level BPE vocabularies.
public enum ByteLevel {
    /// The character standing for each byte value (256 entries, indexed by byte).
    ///
    /// Printable bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves; the other 68 bytes,
    /// in increasing order, take the characters U+0100, U+0101, … in turn.
    public static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                // 256 + 67 at most: always a valid scalar.
                table[byte] = Unicode.Scalar(next) ?? "\0"
                next += 1
            }
        }
        return table
    }()

    /// The byte of each character value below U+0144 (`-1` for characters outside the table).
    static let bytesOfCharacters: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, character) in characters.enumerated() { table[Int(character.value)] = Int16(byte) }
        return table
    }()

    static func standsForItself(_ byte: Int) -> Bool {
        (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
    }

    /// The byte a character stands for, or `nil` when the character is not in the table.
    public static func byte(for character: Unicode.Scalar) -> UInt8? {
        let value = Int(character.value)
        guard value < bytesOfCharacters.count, bytesOfCharacters[value] >= 0 else { return nil }
        return UInt8(bytesOfCharacters[value])
    }

    /// Writes raw bytes as a string of byte-level characters (`" hi"` → `"Ġhi"`).
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var result = String.UnicodeScalarView()
        for byte in bytes { result.append(characters[Int(byte)]) }
        return String(result)
    }

    /// Reads a string of byte-level characters back into raw bytes, or returns `nil` when a
    /// character is outside the table.
    public static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for character in token.unicodeScalars {
            guard let byte = byte(for: character) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
