import Testing

@Suite struct BenchAllreduceTests {
    /// Two ranks sum messages from 4 KB to 4 MB (the benchmark checks every element exactly)
    /// and rank 0 alone prints the table.
    @Test func twoRanksSumEveryMessageExactly() throws {
        let result = try runMPI(ranks: 2, ["bench", "allreduce", "--max-bytes", "4194304", "--repeats", "2"])
        #expect(result.status == 0, "\(result.output)\(result.error)")
        #expect(result.output.contains("across 2 ranks"))
        let rows = result.output.split(separator: "\n").filter { $0.hasPrefix("RESULT bytes=") }
        #expect(rows.count == 6, "\(result.output)")  // 4 KiB, 16 KiB, … 4 MiB
    }

    @Test func withoutMPIItSaysHowToRunIt() throws {
        let result = try runTaipan(["bench", "allreduce", "--max-bytes", "4096", "--repeats", "1"])
        #expect(result.status == 0 && result.output.contains("run under mpirun"), "\(result.output)\(result.error)")
    }
}
