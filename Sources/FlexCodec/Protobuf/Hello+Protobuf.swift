internal import CFlexProto
internal import CProtobufC
public import NIOCore

extension Limits: CMessageConvertible {
    typealias CMessage = Flexinference__V1__Limits
    static let messageName = "flexinference.v1.Limits"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__limits__init }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        self.init(
            maxMessageSize: c.pointee.max_message_size,
            maxConcurrentStreams: c.pointee.max_concurrent_streams,
            initialWindowSize: c.pointee.initial_window_size
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.max_message_size = self.maxMessageSize
        c.pointee.max_concurrent_streams = self.maxConcurrentStreams
        c.pointee.initial_window_size = self.initialWindowSize
    }
}

extension Hello: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__Hello
    static let messageName = "flexinference.v1.Hello"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__hello__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__hello__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        let versions =
            c.pointee.n_versions > 0 && c.pointee.versions != nil
            ? Array(UnsafeBufferPointer(start: c.pointee.versions, count: c.pointee.n_versions)) : []
        var compression: [Compression] = []
        if c.pointee.n_compression > 0, let values = c.pointee.compression {
            compression.reserveCapacity(c.pointee.n_compression)
            for index in 0..<c.pointee.n_compression {
                compression.append(try CField.enumValue(values[index].rawValue, Compression.self))
            }
        }
        self.init(
            versions: versions,
            compression: compression,
            limits: try Limits.decode(c.pointee.limits) ?? Limits(),
            agent: try CField.string(c.pointee.agent, "Hello.agent")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        if !self.versions.isEmpty {
            let versions = try arena.allocateArray(of: UInt32.self, count: self.versions.count)
            for (index, version) in self.versions.enumerated() { versions[index] = version }
            c.pointee.n_versions = self.versions.count
            c.pointee.versions = versions
        }
        if !self.compression.isEmpty {
            let values = try arena.allocateArray(of: Flexinference__V1__Compression.self, count: self.compression.count)
            for (index, algorithm) in self.compression.enumerated() {
                values[index] = Flexinference__V1__Compression(rawValue: CField.rawEnum(algorithm))
            }
            c.pointee.n_compression = self.compression.count
            c.pointee.compression = values
        }
        if self.limits != Limits() {
            c.pointee.limits = try self.limits.makeC(arena: arena)
        }
        try CField.setString(&c.pointee.agent, self.agent, "Hello.agent", arena: arena)
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}

extension GoAway: CTopLevelMessage, FlexMessage {
    typealias CMessage = Flexinference__V1__GoAway
    static let messageName = "flexinference.v1.GoAway"
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { flexinference__v1__go_away__init }
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    {
        flexinference__v1__go_away__unpack
    }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError) {
        guard let lastStreamID = StreamID(validating: c.pointee.last_stream_id) else {
            throw FlexCodecError(code: .invalidStreamID, message: "GoAway.last_stream_id has the reserved bit set")
        }
        self.init(
            lastStreamID: lastStreamID,
            code: try CField.enumValue(c.pointee.code.rawValue, StatusCode.self),
            message: try CField.string(c.pointee.message, "GoAway.message"),
            errorCode: try CField.string(c.pointee.error_code, "GoAway.error_code")
        )
    }

    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError) {
        c.pointee.last_stream_id = self.lastStreamID.rawValue
        c.pointee.code = Flexinference__V1__StatusCode(rawValue: CField.rawEnum(self.code))
        try CField.setString(&c.pointee.message, self.message, "GoAway.message", arena: arena)
        try CField.setString(&c.pointee.error_code, self.errorCode, "GoAway.error_code", arena: arena)
    }

    public static func _decode(from bytes: UnsafeRawBufferPointer, coder: MessageCoder) throws(FlexCodecError) -> Self {
        try coder.unpack(Self.self, bytes)
    }

    public func _encode(into buffer: inout ByteBuffer, coder: MessageCoder) throws(FlexCodecError) -> Int {
        try coder.pack(self, into: &buffer)
    }
}
