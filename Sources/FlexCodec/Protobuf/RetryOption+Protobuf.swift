internal import CFlexProto
internal import CProtobufC

extension RetryOption: CMessageConvertible {
    typealias CMessage = Flexinference__V1__RetryPolicy
    static let messageName = "flexinference.v1.RetryPolicy"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__retry_policy__init }

    /// `backoff` unspecified is exponential; `no_jitter` false (proto3's default) keeps jitter on.
    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            count: c.pointee.count,
            backoff: try CField.optionalEnum(c.pointee.backoff.rawValue, Backoff.self) ?? .exponential,
            jitter: c.pointee.no_jitter == 0
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.count = self.count
        c.pointee.backoff = Flexinference__V1__RetryBackoff(rawValue: CField.rawEnum(self.backoff))
        c.pointee.no_jitter = self.jitter ? 0 : 1
    }
}
