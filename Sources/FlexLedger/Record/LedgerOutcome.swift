public import FlexCore

/// How a recorded call ended.
public enum LedgerOutcome: Sendable, Hashable {
    /// The provider's answer reached the caller whole.
    case completed
    /// The call failed after it cost money (e.g. a stream cut after it started): the status the
    /// caller was told and flexd's error code (e.g. `DATA_LOSS`, `upstream_stream_truncated`).
    case failed(status: StatusCode, errorCode: String)

    /// `completed` or `failed`, as stored in the `outcome` column.
    public var name: String {
        switch self {
        case .completed: "completed"
        case .failed: "failed"
        }
    }
}
