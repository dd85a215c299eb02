import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct AtomicFileTests {
    @Test func replacesTheFileOnlyWhenComplete() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("state.json")
        try writeAtomically(path: path) { file throws(CheckpointError) in try file.write("first") }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")

        #expect(throws: CheckpointError.io(path: path, message: "interrupted")) {
            try writeAtomically(path: path) { file throws(CheckpointError) in
                try file.write("second, half written")
                throw CheckpointError.io(path: path, message: "interrupted")
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "first")
        #expect(try scratch.contents() == ["state.json"])

        try writeAtomically(path: path) { file throws(CheckpointError) in try file.write("third") }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "third")
        #expect(try scratch.contents() == ["state.json"])
    }
}
