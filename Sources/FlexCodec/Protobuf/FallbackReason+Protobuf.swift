internal import FlexCore

extension FallbackReason {
    /// How the reason travels (PROTOCOL.md, section 15, revision 1.2): the revision-1 enum value, and
    /// `fallback_predicted` for the two reasons the adaptive flex policy decides. A predicted-late
    /// fallback is sent as `FLEX_START_TIMEOUT` and a scarce one as `FLEX_CAPACITY`, so a client
    /// written for revision 1.1 (which rejects unknown enum values) reads a reason it knows.
    var wireValue: (reason: UInt32, predicted: Bool) {
        switch self {
        case .flexCapacity, .flexStartTimeout, .flexUpstreamError: (UInt32(self.rawValue), false)
        case .flexPredictedLate: (UInt32(FallbackReason.flexStartTimeout.rawValue), true)
        case .flexScarce: (UInt32(FallbackReason.flexCapacity.rawValue), true)
        }
    }

    /// The reason a frame carries; nil for none. The enum's values are those of revision 1 (1...3);
    /// `predicted` refines capacity and start timeout, and means nothing with the others.
    static func decode(wire raw: UInt32, predicted: Bool) throws(FlexCodecError) -> FallbackReason? {
        guard let reason = try CField.optionalEnum(raw, FallbackReason.self) else { return nil }
        switch reason {
        case .flexCapacity: return predicted ? .flexScarce : .flexCapacity
        case .flexStartTimeout: return predicted ? .flexPredictedLate : .flexStartTimeout
        case .flexUpstreamError: return .flexUpstreamError
        case .flexPredictedLate, .flexScarce:
            // Swift-side values only: on the wire they are 1 or 2 with `predicted`.
            throw FlexCodecError.unknownEnumValue("FallbackReason", Int32(bitPattern: raw))
        }
    }
}
