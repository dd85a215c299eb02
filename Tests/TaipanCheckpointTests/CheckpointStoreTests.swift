import Foundation
import Testing
@testable import TaipanCheckpoint

@Suite struct CheckpointStoreTests {
    @Test func savesMarksListsAndPrunes() throws {
        let scratch = try ScratchDirectory()
        let store = CheckpointStore(root: scratch.file("checkpoints"))
        #expect(store.latestStep == nil)
        for step in [100, 200, 300, 400, 500] {
            let path = try store.save(step: step) { directory in
                try writeAtomically(path: directory + "/state.json") { file throws(CheckpointError) in try file.write("{\"step\": \(step)}") }
            }
            #expect(path.hasSuffix("checkpoints/step-" + String(format: "%08d", step)))
            #expect(FileManager.default.fileExists(atPath: path + "/COMPLETE"))
        }
        #expect(store.completeSteps() == [100, 200, 300, 400, 500])
        #expect(store.prune(keepLast: 2, keepEvery: 200) == [100, 300])
        #expect(store.completeSteps() == [200, 400, 500])
        #expect(store.latestStep == 500)
    }

    @Test func anInterruptedSaveLeavesNothingTrusted() throws {
        let scratch = try ScratchDirectory()
        let store = CheckpointStore(root: scratch.file("checkpoints"))
        try store.save(step: 10) { _ in }
        struct Crash: Error {}
        #expect(throws: Crash.self) {
            try store.save(step: 20) { directory in
                try Data("half".utf8).write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
                throw Crash()
            }
        }
        // A directory with files but no marker (a crash after the rename) is not complete either.
        try FileManager.default.createDirectory(atPath: store.path(step: 30), withIntermediateDirectories: true)
        #expect(store.completeSteps() == [10])
        store.prune(keepLast: 5, keepEvery: 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.root) == ["step-00000010"])
    }

    @Test func savingTheSameStepAgainReplacesIt() throws {
        let scratch = try ScratchDirectory()
        let store = CheckpointStore(root: scratch.file("checkpoints"))
        for text in ["first", "second"] {
            try store.save(step: 5) { directory in try Data(text.utf8).write(to: URL(fileURLWithPath: directory + "/note")) }
        }
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: store.path(step: 5) + "/note")), as: UTF8.self) == "second")
        #expect(store.completeSteps() == [5])
    }
}
