internal import NIOCore

/// A channel handler whose writes made outside reads (from calls' tasks) leave in one flush per
/// event-loop round: both doors (``ServerConnectionHandler``, ``HTTPDoorHandler``).
///
/// A call forwarding the burst of events one read of the provider's stream held, or several calls
/// finishing in the same tick, so leave in one write system call instead of one per frame (it was
/// 18.7% of flexd's CPU on the `default` mix). The flush is a task of the loop's next round, so a
/// frame waits at most for the jobs already queued. Whatever must leave at once (an answer's end,
/// a close) flushes directly, taking what is waiting.
protocol CoalescedFlushing: AnyObject, SendableMetatype {
    /// The handler's context while it is in the pipeline.
    var flushContext: ChannelHandlerContext? { get }
    /// A flush is queued on the event loop. Only ``flushSoon()`` touches it.
    var flushScheduled: Bool { get set }
    /// Runs before the queued flush: a handler that gathers writes itself hands them on here.
    func willFlush()
}

extension CoalescedFlushing {
    func willFlush() {}

    /// Flushes once the event loop has run what is queued now (at most one flush queued at a time).
    func flushSoon() {
        guard !self.flushScheduled, let context = self.flushContext else { return }
        self.flushScheduled = true
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            handler.value.flushScheduled = false
            handler.value.willFlush()
            handler.value.flushContext?.flush()
        }
    }
}
