import Testing
@testable import TaipanTokenizers

@Suite struct WordCacheTests {
    @Test func findsWhatWasInsertedAndStartsAgainWhenFull() {
        let cache = WordCache(maximumWords: 4)
        func insert(_ word: String, _ ids: [Int32]) {
            let bytes = Array(word.utf8)
            bytes.withUnsafeBufferPointer { word in
                ids.withUnsafeBufferPointer { cache.insert(word, hash: WordCache.hash(word), ids: $0) }
            }
        }
        func lookup(_ word: String) -> [Int32]? {
            let bytes = Array(word.utf8)
            return bytes.withUnsafeBufferPointer { word in
                cache.lookup(word, hash: WordCache.hash(word)).map(Array.init)
            }
        }
        insert("the", [1])
        insert(" quick", [2, 3])
        insert("brownish", [4, 5, 6])
        #expect(lookup("the") == [1])
        #expect(lookup(" quick") == [2, 3])
        #expect(lookup("brownish") == [4, 5, 6])
        #expect(lookup("th") == nil)
        #expect(lookup("thee") == nil)
        insert("fox", [7])
        insert("jumps", [8])  // the fifth word: the cache empties first
        #expect(lookup("the") == nil)
        #expect(lookup("jumps") == [8])
    }
}
