/// How a flex-first call decides whether to wait for flex (flexd: `--flex-policy`).
public enum FlexPolicy: Sendable {
    /// Every flex-first call tries flex and waits for it until its budget runs out (a capacity
    /// refusal sends it to standard at once).
    case fixed
    /// The calls flex is not expected to start for in time go to standard at once, or stop waiting
    /// early: see ``AdaptiveFlexPolicy``.
    case adaptive(AdaptiveFlexPolicy)

    /// The policy's name, as flexd's flag spells it.
    public var name: String {
        switch self {
        case .fixed: "fixed"
        case .adaptive: "adaptive"
        }
    }
}
