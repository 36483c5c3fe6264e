/// What one flex attempt taught the adaptive policy: how it ended, and after how long.
public enum FlexAttemptOutcome: Hashable, Sendable {
    /// The attempt produced its first output event `after` seconds.
    case started(after: Double)
    /// The provider refused it for capacity, or it failed before starting for another retryable
    /// reason (5xx, connection failure): flex was not available.
    case refused
    /// It was still waiting after `waited` seconds when the call stopped waiting for it: its budget
    /// ran out, or the policy stopped it. Flex would have started later, if at all (a censored
    /// observation).
    case stillWaiting(after: Double)
}
