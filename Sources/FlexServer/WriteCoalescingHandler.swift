internal import NIOCore

/// Gathers the small buffers written between two flushes into one, so that a flush hands the
/// socket one buffer, not one per frame: first in both doors' pipelines (on the socket's side of
/// every other handler).
///
/// A call relaying a burst of provider events writes a frame per event, each in a buffer of its
/// own that lives until the flush (an allocation and an iovec per frame). Copied here into one
/// buffer per flush, they cost a `memcpy` of a few hundred bytes each instead, and the writer can
/// reuse its encoding buffer for the next frame (``ServerConnectionHandler`` does).
///
/// Order is kept: a buffer over ``copyLimit`` (a large unary answer), or a write with a promise,
/// first passes on what is gathered and then itself. Memory is bounded: past ``gatherLimit`` the
/// gathered bytes pass on (written, not flushed), where the channel's writability sees them.
final class WriteCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Buffers up to this size are copied into the gathered buffer; larger ones pass as they are.
    static let copyLimit = 4 * 1024
    /// Gathered bytes pass on once they reach this size, without waiting for the flush.
    static let gatherLimit = 64 * 1024
    /// The gathered buffer's first capacity.
    static let initialCapacity = 2 * 1024

    private var gathered: ByteBuffer?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = self.unwrapOutboundIn(data)
        guard promise == nil, bytes.readableBytes <= Self.copyLimit else {
            self.passGathered(context)
            context.write(data, promise: promise)
            return
        }
        if self.gathered == nil {
            self.gathered = context.channel.allocator.buffer(capacity: max(Self.initialCapacity, bytes.readableBytes))
        }
        self.gathered!.writeImmutableBuffer(bytes)
        if self.gathered!.readableBytes >= Self.gatherLimit {
            self.passGathered(context)
        }
    }

    func flush(context: ChannelHandlerContext) {
        self.passGathered(context)
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // What was written before the close goes before it, as it would without this handler.
        self.passGathered(context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.passGathered(context)
    }

    private func passGathered(_ context: ChannelHandlerContext) {
        guard let gathered = self.gathered else { return }
        self.gathered = nil
        context.write(self.wrapOutboundOut(gathered), promise: nil)
    }
}
