internal import NIOConcurrencyHelpers

/// The send window of one stream's MESSAGE frames (PROTOCOL.md, section 6): a sender may send while
/// the window is positive and subtracts each frame's length; the peer's WINDOW_UPDATEs add credit.
///
/// Shared by the task that writes the call's frames (which waits in ``reserve(_:)``) and the
/// connection's reading task (which calls ``credit(_:)``); all state is behind one lock.
final class FlowControlWindow: @unchecked Sendable {
    // @unchecked: `state` is only touched with `lock` held.
    private let lock = NIOLock()
    private var state: State

    private struct State {
        var window: Int
        /// The one writer waiting for credit (a stream has one writer), and the size it will take.
        var waiter: CheckedContinuation<Void, any Error>?
        var pendingSize = 0
        var closed: (any Error)?
    }

    struct Overflow: Error {}

    init(initial: Int) {
        self.state = State(window: initial)
    }

    /// Waits until the window is positive, then takes `size` bytes from it (it may go negative).
    /// Throws if the stream is closed meanwhile.
    func reserve(_ size: Int) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = self.lock.withLock {
                    if let error = self.state.closed { return .failure(error) }
                    if self.state.window > 0 {
                        self.state.window -= size
                        return .success(())
                    }
                    self.state.waiter = continuation
                    self.state.pendingSize = size
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            self.close(CancellationError())
        }
    }

    /// Takes `size` bytes at once if the window is positive (true); false if the caller must wait
    /// in ``reserve(_:)``. Throws if the stream is closed.
    func tryReserve(_ size: Int) throws -> Bool {
        try self.lock.withLock {
            if let error = self.state.closed { throw error }
            guard self.state.window > 0 else { return false }
            self.state.window -= size
            return true
        }
    }

    /// Adds credit from a WINDOW_UPDATE. Throws ``Overflow`` when the window would pass 2^31 - 1
    /// (a connection error, `flow_control_error`).
    func credit(_ increment: UInt32) throws {
        let waiter: CheckedContinuation<Void, any Error>? = try self.lock.withLock {
            let (sum, overflow) = self.state.window.addingReportingOverflow(Int(increment))
            guard !overflow, sum <= Int(Int32.max) else { throw Overflow() }
            self.state.window = sum
            guard sum > 0, let waiter = self.state.waiter else { return nil }
            self.state.waiter = nil
            self.state.window -= self.state.pendingSize
            return waiter
        }
        waiter?.resume()
    }

    /// Fails the current and every later ``reserve(_:)`` with `error`.
    func close(_ error: any Error) {
        let waiter: CheckedContinuation<Void, any Error>? = self.lock.withLock {
            if self.state.closed == nil { self.state.closed = error }
            defer { self.state.waiter = nil }
            return self.state.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// The window now (for tests).
    var current: Int { self.lock.withLock { self.state.window } }
}
