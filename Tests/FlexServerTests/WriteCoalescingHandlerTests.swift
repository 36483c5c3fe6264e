import NIOCore
import NIOEmbedded
import Testing

@testable import FlexServer

/// The write coalescer on an embedded channel: what reaches the socket's side, in what pieces and
/// order. (Both doors' transport tests run it over real sockets.)
@Suite("WriteCoalescingHandler")
struct WriteCoalescingHandlerTests {
    private func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WriteCoalescingHandler())
        return channel
    }

    private func outbound(_ channel: EmbeddedChannel) throws -> [String] {
        var pieces: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            pieces.append(String(buffer: buffer))
        }
        return pieces
    }

    @Test func smallWritesLeaveAsOneBufferAtTheFlush() throws {
        let channel = try self.channel()
        var reused = ByteBuffer(string: "one ")
        channel.write(reused, promise: nil)
        // The writer may reuse its buffer at once: what was written was copied.
        reused.clear()
        reused.writeString("two ")
        channel.write(reused, promise: nil)
        channel.write(ByteBuffer(string: "three"), promise: nil)
        #expect(try self.outbound(channel) == [])
        channel.flush()
        #expect(try self.outbound(channel) == ["one two three"])
        #expect(try channel.finish().isClean)
    }

    @Test func aLargeBufferPassesWholeAfterWhatWasGathered() throws {
        let channel = try self.channel()
        let large = String(repeating: "x", count: WriteCoalescingHandler.copyLimit + 1)
        channel.write(ByteBuffer(string: "before "), promise: nil)
        channel.write(ByteBuffer(string: large), promise: nil)
        channel.write(ByteBuffer(string: " after"), promise: nil)
        channel.flush()
        #expect(try self.outbound(channel) == ["before ", large, " after"])
        #expect(try channel.finish().isClean)
    }

    @Test func aWriteWithAPromiseKeepsItsPlaceAndIsCompleted() throws {
        let channel = try self.channel()
        channel.write(ByteBuffer(string: "a"), promise: nil)
        let written = channel.write(ByteBuffer(string: "b"))
        channel.write(ByteBuffer(string: "c"), promise: nil)
        channel.flush()
        #expect(try self.outbound(channel) == ["a", "b", "c"])
        try written.wait()
        #expect(try channel.finish().isClean)
    }

    @Test func gatheredBytesPassOnAtTheLimitWithoutWaitingForTheFlush() throws {
        let channel = try self.channel()
        let piece = String(repeating: "y", count: WriteCoalescingHandler.copyLimit)
        let pieces = WriteCoalescingHandler.gatherLimit / WriteCoalescingHandler.copyLimit + 1
        for _ in 0..<pieces {
            channel.write(ByteBuffer(string: piece), promise: nil)
        }
        channel.flush()
        let out = try self.outbound(channel)
        #expect(out.map(\.utf8.count) == [WriteCoalescingHandler.gatherLimit, WriteCoalescingHandler.copyLimit])
        #expect(try channel.finish().isClean)
    }
}
