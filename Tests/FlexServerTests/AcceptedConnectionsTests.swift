import NIOEmbedded
import Testing

@testable import FlexServer

/// The record that keeps a connection NIO accepted as its listener closed from being dropped
/// without a task (``AcceptedConnections``).
@Suite("AcceptedConnections")
struct AcceptedConnectionsTests {
    @Test func aConnectionTheLoopReceivedIsNotLeftOver() throws {
        let accepted = AcceptedConnections<Int>()
        let channel = EmbeddedChannel()
        try accepted.accepted(1, on: channel)
        accepted.arrived(on: channel)
        #expect(accepted.closeAndTakeLeftOvers().isEmpty)
    }

    @Test func aConnectionTheLoopNeverReceivedIsLeftOverOnce() throws {
        let accepted = AcceptedConnections<Int>()
        let received = EmbeddedChannel()
        let dropped = EmbeddedChannel()
        try accepted.accepted(1, on: received)
        try accepted.accepted(2, on: dropped)
        accepted.arrived(on: received)
        #expect(accepted.closeAndTakeLeftOvers() == [2])
        #expect(accepted.closeAndTakeLeftOvers().isEmpty)
    }

    @Test func anInitializerAfterTheLoopEndedRefusesItsChannel() {
        let accepted = AcceptedConnections<Int>()
        _ = accepted.closeAndTakeLeftOvers()
        #expect(throws: AcceptedConnections<Int>.ListenerClosed.self) {
            try accepted.accepted(3, on: EmbeddedChannel())
        }
    }
}
