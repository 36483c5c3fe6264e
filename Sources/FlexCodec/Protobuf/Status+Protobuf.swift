internal import CFlexProto
internal import CProtobufC
internal import NIOCore

extension UpstreamError: CMessageConvertible {
    typealias CMessage = Flexinference__V1__UpstreamError
    static let messageName = "flexinference.v1.UpstreamError"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__upstream_error__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            httpStatus: c.pointee.http_status,
            type: try CField.string(c.pointee.type, "UpstreamError.type"),
            code: try CField.string(c.pointee.code, "UpstreamError.code"),
            message: try CField.string(c.pointee.message, "UpstreamError.message"),
            body: CField.bytes(c.pointee.body),
            retryAfter: c.pointee.retry_after_ms == 0 ? nil : .milliseconds(Int64(clamping: c.pointee.retry_after_ms))
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.http_status = self.httpStatus
        try CField.setString(&c.pointee.type, self.type, "UpstreamError.type", arena: arena)
        try CField.setString(&c.pointee.code, self.code, "UpstreamError.code", arena: arena)
        try CField.setString(&c.pointee.message, self.message, "UpstreamError.message", arena: arena)
        c.pointee.body = try CField.setBytes(self.body, arena: arena)
        if let retryAfter = self.retryAfter {
            c.pointee.retry_after_ms = (CField.microseconds(retryAfter) + 999) / 1000
        }
    }
}

extension Status: CMessageConvertible {
    typealias CMessage = Flexinference__V1__Status
    static let messageName = "flexinference.v1.Status"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__status__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            code: try CField.enumValue(c.pointee.code.rawValue, StatusCode.self),
            message: try CField.string(c.pointee.message, "Status.message"),
            errorCode: try CField.string(c.pointee.error_code, "Status.error_code"),
            details: try CField.map(c.pointee.n_details, c.pointee.details, "Status.details") {
                ($0.pointee.key, $0.pointee.value)
            },
            upstream: try UpstreamError.decode(c.pointee.upstream)
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.code = Flexinference__V1__StatusCode(rawValue: CField.rawEnum(self.code))
        try CField.setString(&c.pointee.message, self.message, "Status.message", arena: arena)
        try CField.setString(&c.pointee.error_code, self.errorCode, "Status.error_code", arena: arena)
        (c.pointee.n_details, c.pointee.details) = try CField.setMap(
            self.details,
            "Status.details",
            arena: arena,
            initEntry: flexinference__v1__status__details_entry__init,
            setEntry: { entry, key, value in
                entry.pointee.key = key
                entry.pointee.value = value
            }
        )
        c.pointee.upstream = try self.upstream?.makeC(arena: arena)
    }
}
