internal import CFlexProto
internal import CProtobufC
public import NIOCore

extension InferenceRequest: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__InferenceRequest
    static let messageName = "flexinference.v1.InferenceRequest"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__inference_request__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__inference_request__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let r = c.pointee
        let body: Body?
        switch r.body_case {
        case FLEXINFERENCE__V1__INFERENCE_REQUEST__BODY_NATIVE_JSON:
            body = .nativeJSON(CField.bytes(r.native_json))
        case FLEXINFERENCE__V1__INFERENCE_REQUEST__BODY_CHAT:
            guard let chat = r.chat else { throw FlexCodecError.invalidProtobuf(Self.messageName) }
            body = .chat(try ChatRequest(c: chat))
        default:
            body = nil
        }
        self.init(
            requestID: try CField.string(r.request_id, "InferenceRequest.request_id"),
            provider: try CField.optionalEnum(r.provider.rawValue, Provider.self),
            api: try CField.optionalEnum(r.api.rawValue, Api.self),
            model: try CField.string(r.model, "InferenceRequest.model"),
            startWithin: try CField.string(r.start_within, "InferenceRequest.start_within"),
            providerKey: Secret(try CField.string(r.provider_key, "InferenceRequest.provider_key")),
            metadata: try CField.map(r.n_metadata, r.metadata, "InferenceRequest.metadata") {
                ($0.pointee.key, $0.pointee.value)
            },
            body: body,
            retry: try RetryOption.decode(r.retry)
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.request_id, self.requestID, "InferenceRequest.request_id", arena: arena)
        c.pointee.retry = try self.retry?.makeC(arena: arena)
        c.pointee.provider = Flexinference__V1__Provider(rawValue: CField.rawEnum(self.provider))
        c.pointee.api = Flexinference__V1__Api(rawValue: CField.rawEnum(self.api))
        try CField.setString(&c.pointee.model, self.model, "InferenceRequest.model", arena: arena)
        try CField.setString(&c.pointee.start_within, self.startWithin, "InferenceRequest.start_within", arena: arena)
        try CField.setString(
            &c.pointee.provider_key,
            self.providerKey.value,
            "InferenceRequest.provider_key",
            arena: arena
        )
        (c.pointee.n_metadata, c.pointee.metadata) = try CField.setMap(
            self.metadata,
            "InferenceRequest.metadata",
            arena: arena,
            initEntry: flexinference__v1__inference_request__metadata_entry__init,
            setEntry: { entry, key, value in
                entry.pointee.key = key
                entry.pointee.value = value
            }
        )
        switch self.body {
        case .nativeJSON(let json):
            c.pointee.body_case = FLEXINFERENCE__V1__INFERENCE_REQUEST__BODY_NATIVE_JSON
            c.pointee.native_json = try CField.setBytes(json, arena: arena)
        case .chat(let chat):
            c.pointee.body_case = FLEXINFERENCE__V1__INFERENCE_REQUEST__BODY_CHAT
            c.pointee.chat = try chat.makeC(arena: arena)
        case nil:
            break
        }
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}

extension InferenceResponse: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__InferenceResponse
    static let messageName = "flexinference.v1.InferenceResponse"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__inference_response__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__inference_response__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let r = c.pointee
        self.init(
            requestID: try CField.string(r.request_id, "InferenceResponse.request_id"),
            nativeJSON: r.native_json.len > 0 ? CField.bytes(r.native_json) : nil,
            chat: try ChatResult.decode(r.chat)
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.request_id, self.requestID, "InferenceResponse.request_id", arena: arena)
        if let json = self.nativeJSON {
            c.pointee.native_json = try CField.setBytes(json, arena: arena)
        }
        c.pointee.chat = try self.chat?.makeC(arena: arena)
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}
