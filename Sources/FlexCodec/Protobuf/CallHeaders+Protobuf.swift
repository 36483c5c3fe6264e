internal import CFlexProto
internal import CProtobufC
public import NIOCore

extension RequestHeaders: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__RequestHeaders
    static let messageName = "flexinference.v1.RequestHeaders"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__request_headers__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__request_headers__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            method: try CField.string(c.pointee.method, "RequestHeaders.method"),
            timeout: CField.duration(microseconds: c.pointee.timeout_us),
            apiKey: Secret(try CField.string(c.pointee.api_key, "RequestHeaders.api_key")),
            metadata: try CField.map(c.pointee.n_metadata, c.pointee.metadata, "RequestHeaders.metadata") {
                ($0.pointee.key, $0.pointee.value)
            }
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.method, self.method, "RequestHeaders.method", arena: arena)
        c.pointee.timeout_us = CField.microseconds(self.timeout)
        try CField.setString(&c.pointee.api_key, self.apiKey.value, "RequestHeaders.api_key", arena: arena)
        (c.pointee.n_metadata, c.pointee.metadata) = try CField.setMap(
            self.metadata,
            "RequestHeaders.metadata",
            arena: arena,
            initEntry: flexinference__v1__request_headers__metadata_entry__init,
            setEntry: { entry, key, value in
                entry.pointee.key = key
                entry.pointee.value = value
            }
        )
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}

extension ResponseHeaders: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__ResponseHeaders
    static let messageName = "flexinference.v1.ResponseHeaders"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__response_headers__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__response_headers__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            metadata: try CField.map(c.pointee.n_metadata, c.pointee.metadata, "ResponseHeaders.metadata") {
                ($0.pointee.key, $0.pointee.value)
            }
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        (c.pointee.n_metadata, c.pointee.metadata) = try CField.setMap(
            self.metadata,
            "ResponseHeaders.metadata",
            arena: arena,
            initEntry: flexinference__v1__response_headers__metadata_entry__init,
            setEntry: { entry, key, value in
                entry.pointee.key = key
                entry.pointee.value = value
            }
        )
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}

extension Trailers: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__Trailers
    static let messageName = "flexinference.v1.Trailers"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__trailers__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__trailers__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            // An absent status is the proto3 default: OK.
            status: try Status.decode(c.pointee.status) ?? .ok,
            savings: try SavingsRecord.decode(c.pointee.savings),
            metadata: try CField.map(c.pointee.n_metadata, c.pointee.metadata, "Trailers.metadata") {
                ($0.pointee.key, $0.pointee.value)
            }
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.status = try self.status.makeC(arena: arena)
        c.pointee.savings = try self.savings?.makeC(arena: arena)
        (c.pointee.n_metadata, c.pointee.metadata) = try CField.setMap(
            self.metadata,
            "Trailers.metadata",
            arena: arena,
            initEntry: flexinference__v1__trailers__metadata_entry__init,
            setEntry: { entry, key, value in
                entry.pointee.key = key
                entry.pointee.value = value
            }
        )
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}

extension Cancel: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__Cancel
    static let messageName = "flexinference.v1.Cancel"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__cancel__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__cancel__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let code = try CField.enumValue(c.pointee.code.rawValue, StatusCode.self)
        self.init(
            code: code == .ok ? .cancelled : code,
            reason: try CField.string(c.pointee.reason, "Cancel.reason")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.code = Flexinference__V1__StatusCode(rawValue: CField.rawEnum(self.code))
        try CField.setString(&c.pointee.reason, self.reason, "Cancel.reason", arena: arena)
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}
