import Foundation
import Testing

@testable import TaipanCheckpoint

@Suite struct MappedFileTests {
    @Test func mapsFilesAndRefusesWhatIsNotOne() throws {
        let scratch = try ScratchDirectory()
        try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: scratch.file("five")))
        let file = try MappedFile(path: scratch.file("five"))
        #expect(Array(file.bytes) == [1, 2, 3, 4, 5])
        try Data().write(to: URL(fileURLWithPath: scratch.file("empty")))
        #expect(try MappedFile(path: scratch.file("empty")).bytes.isEmpty)
        #expect(throws: CheckpointError.io(path: scratch.path, message: "not a regular file")) { try MappedFile(path: scratch.path) }
        #expect(throws: CheckpointError.self) { try MappedFile(path: scratch.file("missing")) }
    }

    @Test func littleEndianReadsStayInBounds() {
        [UInt8]([0x01, 0x02, 0x03, 0x04, 0x05]).withUnsafeBytes { bytes in
            #expect(bytes.littleEndian(UInt32.self, at: 0) == 0x0403_0201)
            #expect(bytes.littleEndian(UInt32.self, at: 1) == 0x0504_0302)
            #expect(bytes.littleEndian(UInt32.self, at: 2) == nil)
            #expect(bytes.littleEndian(UInt8.self, at: -1) == nil)
            #expect(bytes.littleEndian(UInt64.self, at: 0) == nil)
            #expect(bytes.littleEndian(UInt16.self, at: Int.max) == nil)
        }
    }
}
