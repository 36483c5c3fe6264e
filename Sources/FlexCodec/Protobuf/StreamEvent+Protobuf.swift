internal import CFlexProto
internal import CProtobufC
public import NIOCore

extension NativeEvent: CMessageConvertible {
    typealias CMessage = Flexinference__V1__NativeEvent
    static let messageName = "flexinference.v1.NativeEvent"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__native_event__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(event: try CField.string(c.pointee.event, "NativeEvent.event"), data: CField.bytes(c.pointee.data))
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        try CField.setString(&c.pointee.event, self.event, "NativeEvent.event", arena: arena)
        c.pointee.data = try CField.setBytes(self.data, arena: arena)
    }
}

extension RouteDecision: CMessageConvertible {
    typealias CMessage = Flexinference__V1__RouteDecision
    static let messageName = "flexinference.v1.RouteDecision"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__route_decision__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            tier: try CField.optionalEnum(c.pointee.tier.rawValue, Tier.self),
            fellBack: c.pointee.fell_back != 0,
            fallbackReason: try FallbackReason.decode(
                wire: c.pointee.fallback_reason.rawValue,
                predicted: c.pointee.fallback_predicted != 0
            ),
            flexWaitMicroseconds: c.pointee.flex_wait_us
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.tier = Flexinference__V1__Tier(rawValue: CField.rawEnum(self.tier))
        c.pointee.fell_back = self.fellBack ? 1 : 0
        let fallback = self.fallbackReason?.wireValue ?? (reason: 0, predicted: false)
        c.pointee.fallback_reason = Flexinference__V1__FallbackReason(rawValue: fallback.reason)
        c.pointee.fallback_predicted = fallback.predicted ? 1 : 0
        c.pointee.flex_wait_us = self.flexWaitMicroseconds
    }
}

extension ToolCallDelta: CMessageConvertible {
    typealias CMessage = Flexinference__V1__ToolCallDelta
    static let messageName = "flexinference.v1.ToolCallDelta"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__tool_call_delta__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            index: c.pointee.index,
            id: try CField.string(c.pointee.id, "ToolCallDelta.id"),
            name: try CField.string(c.pointee.name, "ToolCallDelta.name"),
            argumentsFragment: try CField.string(c.pointee.arguments_fragment, "ToolCallDelta.arguments_fragment")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.index = self.index
        try CField.setString(&c.pointee.id, self.id, "ToolCallDelta.id", arena: arena)
        try CField.setString(&c.pointee.name, self.name, "ToolCallDelta.name", arena: arena)
        try CField.setString(
            &c.pointee.arguments_fragment,
            self.argumentsFragment,
            "ToolCallDelta.arguments_fragment",
            arena: arena
        )
    }
}

extension FinishDelta: CMessageConvertible {
    typealias CMessage = Flexinference__V1__FinishDelta
    static let messageName = "flexinference.v1.FinishDelta"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__finish_delta__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            finishReason: try CField.optionalEnum(c.pointee.finish_reason.rawValue, FinishReason.self),
            nativeFinishReason: try CField.string(c.pointee.native_finish_reason, "FinishDelta.native_finish_reason"),
            usage: try TokenUsage.decode(c.pointee.usage)
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.finish_reason = Flexinference__V1__FinishReason(rawValue: CField.rawEnum(self.finishReason))
        try CField.setString(
            &c.pointee.native_finish_reason,
            self.nativeFinishReason,
            "FinishDelta.native_finish_reason",
            arena: arena
        )
        c.pointee.usage = try self.usage?.makeC(arena: arena)
    }
}

/// `StreamEvent` is a Swift enum over the proto's oneof; an event with no member set is rejected.
extension StreamEvent: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__StreamEvent
    static let messageName = "flexinference.v1.StreamEvent"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__stream_event__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__stream_event__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let e = c.pointee
        switch e.event_case {
        case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_ROUTE:
            self = .route(try Self.required(RouteDecision.decode(e.route)))
        case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_NATIVE:
            self = .native(try Self.required(NativeEvent.decode(e.native)))
        case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_TEXT:
            let delta = try Self.required(e.text)
            self = .text(try CField.string(delta.pointee.text, "TextDelta.text"))
        case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_TOOL_CALL:
            self = .toolCall(try Self.required(ToolCallDelta.decode(e.tool_call)))
        case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_REASONING:
            let delta = try Self.required(e.reasoning)
            self = .reasoning(try CField.string(delta.pointee.text, "ReasoningDelta.text"))
        case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_FINISH:
            self = .finish(try Self.required(FinishDelta.decode(e.finish)))
        default:
            throw FlexCodecError(code: .missingField, message: "StreamEvent has no event set")
        }
    }

    private static func required<T>(_ value: T?) throws(FlexCodecError) -> T {
        guard let value else { throw FlexCodecError.invalidProtobuf(Self.messageName) }
        return value
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        switch self {
        case .route(let route):
            c.pointee.event_case = FLEXINFERENCE__V1__STREAM_EVENT__EVENT_ROUTE
            c.pointee.route = try route.makeC(arena: arena)
        case .native(let native):
            c.pointee.event_case = FLEXINFERENCE__V1__STREAM_EVENT__EVENT_NATIVE
            c.pointee.native = try native.makeC(arena: arena)
        case .text(let text):
            let delta = try arena.allocate(Flexinference__V1__TextDelta.self)
            flexinference__v1__text_delta__init(delta)
            try CField.setString(&delta.pointee.text, text, "TextDelta.text", arena: arena)
            c.pointee.event_case = FLEXINFERENCE__V1__STREAM_EVENT__EVENT_TEXT
            c.pointee.text = delta
        case .toolCall(let toolCall):
            c.pointee.event_case = FLEXINFERENCE__V1__STREAM_EVENT__EVENT_TOOL_CALL
            c.pointee.tool_call = try toolCall.makeC(arena: arena)
        case .reasoning(let text):
            let delta = try arena.allocate(Flexinference__V1__ReasoningDelta.self)
            flexinference__v1__reasoning_delta__init(delta)
            try CField.setString(&delta.pointee.text, text, "ReasoningDelta.text", arena: arena)
            c.pointee.event_case = FLEXINFERENCE__V1__STREAM_EVENT__EVENT_REASONING
            c.pointee.reasoning = delta
        case .finish(let finish):
            c.pointee.event_case = FLEXINFERENCE__V1__STREAM_EVENT__EVENT_FINISH
            c.pointee.finish = try finish.makeC(arena: arena)
        }
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}
