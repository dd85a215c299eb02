import Testing

@testable import TaipanDistributed

@Suite struct CommunicatorTests {
    @Test func mpiLaunchersAreRecognisedByTheirVariables() {
        #expect(!Communicators.launchedByMPI([:]))
        #expect(!Communicators.launchedByMPI(["PATH": "/usr/bin", "OMPI_MCA_btl": "tcp,self"]))
        #expect(Communicators.launchedByMPI(["OMPI_COMM_WORLD_SIZE": "2"]))
        #expect(Communicators.launchedByMPI(["PMIX_RANK": "0"]))
        #expect(Communicators.launchedByMPI(["PMI_RANK": "3", "PMI_SIZE": "4"]))
    }

    @Test func withoutALauncherTheJobIsOneProcess() throws {
        let communicator = try Communicators.start()
        #expect(communicator is SingleProcess)
        #expect(communicator.rank == 0 && communicator.size == 1 && communicator.localSize == 1 && communicator.isRoot)
    }

    @Test func aJobOfOneLeavesItsDataAsItIs() throws {
        let communicator = SingleProcess()
        var floats: [Float] = [1.5, -2, 3]
        try floats.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0.baseAddress!, count: 3) }
        #expect(floats == [1.5, -2, 3])
        #expect(try communicator.allreduceSum([0.25, 7]) == [0.25, 7])
        try communicator.broadcast(&floats, root: 0)
        #expect(floats == [1.5, -2, 3])
        #expect(try communicator.broadcast(42, root: 0) == 42)
        #expect(try communicator.allgather(0xDEAD_BEEF) == [0xDEAD_BEEF])
        try communicator.barrier()
        communicator.finish()
    }
}
