internal import Synchronization

/// Cancels a request from outside the task that runs it, or shortens its idle timeout.
///
/// Task cancellation ends a request whose task is cancelled; a handle ends it when something else
/// decides to, without cancelling the task: a deadline on part of a transfer that the caller
/// enforces itself. flexd's flex budget is one: it ends when the answer starts, not with the body,
/// and when it runs out the caller goes on to another request in the same task.
///
/// ```swift
/// let cancellation = HTTPCancellationHandle()
/// var request = HTTPClientRequest(url: url)
/// request.cancellation = cancellation
/// // elsewhere, any thread:
/// cancellation.cancel()   // execute(_:) or the body's next chunk throws .cancelled
/// ```
///
/// ``cancel()`` has the effect of cancelling the request's task at that moment: whoever waits
/// (for the head or for a body chunk) gets ``HTTPClientError/Code/cancelled``, the connection is
/// closed and the easy handle freed; a request given a cancelled handle fails at once and sends
/// nothing. A handle cancels the last request it was given to; it keeps no request alive.
public final class HTTPCancellationHandle: Sendable {
    private enum State {
        case idle
        case attached(WeakTransfer)
        case cancelled
    }

    private struct WeakTransfer {
        weak var transfer: Transfer?
    }

    private let state = Mutex(State.idle)

    public init() {}

    /// Cancels the request, now or, if it has not been executed yet, as soon as it is. Any thread;
    /// idempotent.
    public func cancel() {
        let transfer: Transfer? = self.state.withLock { state in
            defer { state = .cancelled }
            guard case .attached(let weak) = state else { return nil }
            return weak.transfer
        }
        transfer?.cancel()
    }

    /// Changes the idle timeout of the request the handle was given to, once it is running: the
    /// transfer then fails with ``HTTPClientError/Code/idleTimeout`` when no body data has come for
    /// `timeout` since the last that did. While no idle deadline runs (before the response head,
    /// or while the consumer has paused the transfer) the new timeout counts from the next arrival.
    /// `nil` removes it. Before the request is executed, and after it has ended, it does nothing.
    /// Any thread.
    ///
    /// flexd's flex attempts wait with an idle timeout as long as their budget (a queued request
    /// may send nothing for that long) and shorten it once the answer starts.
    public func setIdleTimeout(_ timeout: Duration?) {
        let transfer: Transfer? = self.state.withLock { state in
            guard case .attached(let weak) = state else { return nil }
            return weak.transfer
        }
        transfer?.setIdleTimeout(nanoseconds: timeout.map { max(1, $0.saturatingNanoseconds) } ?? 0)
    }

    /// Whether ``cancel()`` has been called.
    public var isCancelled: Bool {
        self.state.withLock { state in
            if case .cancelled = state { return true }
            return false
        }
    }

    /// The request's transfer exists: a later ``cancel()`` ends it. Before `start`.
    func attach(_ transfer: Transfer) {
        let cancelled: Bool = self.state.withLock { state in
            if case .cancelled = state { return true }
            state = .attached(WeakTransfer(transfer: transfer))
            return false
        }
        if cancelled {
            transfer.cancel()
        }
    }
}
