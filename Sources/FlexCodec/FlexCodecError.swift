/// An error found while encoding or decoding the flexinference wire protocol.
///
/// Every way that bytes from a peer can be wrong has its own ``Code``, so callers (and tests) can
/// tell a frame that is too large from corrupt LZ4 or an unknown enum value. Each error also says
/// which entry of FlexCore's `ErrorCode` table the peer should be told, and with which status
/// (``errorCode``, ``statusCode``).
///
/// The message never contains payload bytes, so no secret carried in a frame can leak through it.
public struct FlexCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. A struct wrapping a private enum, so that new codes are not a breaking change.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case invalidPreface
            case frameTooLarge
            case unknownFrameType
            case invalidFlags
            case invalidStreamID
            case frameNotAllowed
            case invalidFramePayload
            case truncatedFrame
            case compressionNotNegotiated
            case decompressedSizeTooLarge
            case corruptCompressedPayload
            case invalidProtobuf
            case unknownEnumValue
            case invalidString
            case missingField
            case streamIDReused
            case messageTooLarge
            case unsupportedVersion
            case invalidLimits
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The connection did not start with the 8-byte preface `FLEXD/1\n`.
        public static let invalidPreface = Self(.invalidPreface)
        /// A frame's length field is larger than the receiver's maximum message size. Detected from
        /// the header alone, before any of the body is buffered.
        public static let frameTooLarge = Self(.frameTooLarge)
        /// A frame type this protocol version does not define.
        public static let unknownFrameType = Self(.unknownFrameType)
        /// Flag bits that are not defined for the frame's type.
        public static let invalidFlags = Self(.invalidFlags)
        /// Stream id 0 on a stream frame, a non-zero id on a connection frame, or the reserved bit set.
        public static let invalidStreamID = Self(.invalidStreamID)
        /// A frame type that the sending side may not send (e.g. TRAILERS from a client).
        public static let frameNotAllowed = Self(.frameNotAllowed)
        /// A fixed-size payload of the wrong size, or a value out of range (e.g. a zero window increment).
        public static let invalidFramePayload = Self(.invalidFramePayload)
        /// The input ended in the middle of a frame.
        public static let truncatedFrame = Self(.truncatedFrame)
        /// A compressed frame arrived although compression was not negotiated.
        public static let compressionNotNegotiated = Self(.compressionNotNegotiated)
        /// A compressed payload declares an uncompressed size over the limit (a decompression bomb),
        /// or an empty one.
        public static let decompressedSizeTooLarge = Self(.decompressedSizeTooLarge)
        /// LZ4 data that does not decompress to exactly the declared size.
        public static let corruptCompressedPayload = Self(.corruptCompressedPayload)
        /// Bytes that are not a valid protobuf encoding of the expected message.
        public static let invalidProtobuf = Self(.invalidProtobuf)
        /// An enum value that this protocol version does not define.
        public static let unknownEnumValue = Self(.unknownEnumValue)
        /// A string field that is not valid UTF-8 or contains U+0000 (which C peers cannot
        /// represent): refused when encoding and when decoding.
        public static let invalidString = Self(.invalidString)
        /// A field that the protocol requires is absent.
        public static let missingField = Self(.missingField)
        /// A HEADERS frame on a stream id that is not higher than every id used before.
        public static let streamIDReused = Self(.streamIDReused)
        /// A message to send is larger than the peer's maximum message size.
        public static let messageTooLarge = Self(.messageTooLarge)
        /// The peers share no protocol version.
        public static let unsupportedVersion = Self(.unsupportedVersion)
        /// A HELLO announces limits outside the protocol's bounds.
        public static let invalidLimits = Self(.invalidLimits)

        public var description: String {
            switch self.wrapped {
            case .invalidPreface: "invalidPreface"
            case .frameTooLarge: "frameTooLarge"
            case .unknownFrameType: "unknownFrameType"
            case .invalidFlags: "invalidFlags"
            case .invalidStreamID: "invalidStreamID"
            case .frameNotAllowed: "frameNotAllowed"
            case .invalidFramePayload: "invalidFramePayload"
            case .truncatedFrame: "truncatedFrame"
            case .compressionNotNegotiated: "compressionNotNegotiated"
            case .decompressedSizeTooLarge: "decompressedSizeTooLarge"
            case .corruptCompressedPayload: "corruptCompressedPayload"
            case .invalidProtobuf: "invalidProtobuf"
            case .unknownEnumValue: "unknownEnumValue"
            case .invalidString: "invalidString"
            case .missingField: "missingField"
            case .streamIDReused: "streamIDReused"
            case .messageTooLarge: "messageTooLarge"
            case .unsupportedVersion: "unsupportedVersion"
            case .invalidLimits: "invalidLimits"
            }
        }
    }

    public var code: Code
    /// What exactly was wrong, for logs and for the peer. Never contains payload bytes.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "FlexCodecError.\(self.code): \(self.message)" }

    /// The `error_code` sent in GOAWAY or TRAILERS when this error ends the connection or a call.
    public var errorCode: ErrorCode {
        switch self.code {
        case .frameTooLarge, .messageTooLarge: .frameTooLarge
        case .decompressedSizeTooLarge, .corruptCompressedPayload, .compressionNotNegotiated: .compressionError
        case .invalidProtobuf, .unknownEnumValue, .invalidString, .missingField: .invalidMessage
        case .unsupportedVersion: .unsupportedVersion
        case .invalidLimits: .invalidLimits
        default: .protocolError
        }
    }

    /// The status it is sent with: ``errorCode``'s, except for a declared decompressed size over
    /// the limit (a decompression bomb), which is RESOURCE_EXHAUSTED like a frame over the limit.
    public var statusCode: StatusCode {
        self.code == .decompressedSizeTooLarge ? .resourceExhausted : self.errorCode.status
    }

    /// The GOAWAY that ends a connection over this error.
    public func goAway(lastStreamID: StreamID) -> GoAway {
        GoAway(lastStreamID: lastStreamID, self.errorCode, self.message, status: self.statusCode)
    }
}

extension FlexCodecError {
    static func invalidProtobuf(_ messageName: String) -> Self {
        Self(code: .invalidProtobuf, message: "payload is not a valid \(messageName)")
    }

    static func unknownEnumValue(_ enumName: String, _ value: Int32) -> Self {
        Self(code: .unknownEnumValue, message: "\(enumName) has no value \(value) in protocol v1")
    }

    static func invalidUTF8(_ field: String) -> Self {
        Self(code: .invalidString, message: "\(field) is not valid UTF-8")
    }

    static func stringWithNUL(_ messageName: String, field: String) -> Self {
        Self(
            code: .invalidString,
            message: "\(messageName).\(field) contains U+0000, which the protocol does not allow"
        )
    }
}
