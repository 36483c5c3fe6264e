/// The error FlexHTTP throws: one ``Code`` per failure class, with a message (libcurl's own text
/// from `CURLOPT_ERRORBUFFER` when libcurl reported the failure).
///
/// HTTP statuses are never errors: a 429 or a 503 is a ``HTTPClientResponse``.
///
/// Messages never contain request header values marked sensitive (or the well-known credential
/// headers), the URL's query string or userinfo, or proxy credentials: they are replaced with
/// `<redacted>` before the error is created.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// A failure class. A struct wrapping a private enum, so that new classes can be added without
    /// breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case invalidRequest
            case resolveFailed
            case connectFailed
            case tlsFailed
            case connectTimeout
            case responseHeadTimeout
            case idleTimeout
            case totalTimeout
            case connectionClosed
            case protocolError
            case responseTooLarge
            case responseHeadTooLarge
            case cancelled
            case shutdown
            case internalError
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// The request could not be sent as given: a malformed URL, a scheme other than `http` or
        /// `https`, an invalid method or header.
        public static let invalidRequest = Self(.invalidRequest)
        /// The host name (or the proxy's) could not be resolved.
        public static let resolveFailed = Self(.resolveFailed)
        /// The TCP connection (or the proxy tunnel) could not be established: refused, unreachable.
        public static let connectFailed = Self(.connectFailed)
        /// The TLS handshake or the certificate check failed.
        public static let tlsFailed = Self(.tlsFailed)
        /// ``HTTPTimeouts/connect`` elapsed.
        public static let connectTimeout = Self(.connectTimeout)
        /// ``HTTPTimeouts/responseHead`` elapsed.
        public static let responseHeadTimeout = Self(.responseHeadTimeout)
        /// ``HTTPTimeouts/idle`` elapsed between two pieces of the body.
        public static let idleTimeout = Self(.idleTimeout)
        /// ``HTTPTimeouts/total`` elapsed.
        public static let totalTimeout = Self(.totalTimeout)
        /// The connection was reset or closed before the response was complete (also: an HTTP/2
        /// stream reset by the server). Thrown from the body sequence when it happens mid-body.
        public static let connectionClosed = Self(.connectionClosed)
        /// The server's response violated HTTP (framing, HTTP/2 protocol error, bad encoding).
        public static let protocolError = Self(.protocolError)
        /// The body exceeded the limit given to ``HTTPClientResponse/Body/collect(upTo:)``.
        public static let responseTooLarge = Self(.responseTooLarge)
        /// The response head exceeded ``HTTPClient/Configuration/maximumResponseHeadSize``.
        public static let responseHeadTooLarge = Self(.responseHeadTooLarge)
        /// The caller's task was cancelled; the transfer was aborted.
        public static let cancelled = Self(.cancelled)
        /// The client was shut down before the request completed, or was already shut down.
        public static let shutdown = Self(.shutdown)
        /// Anything else libcurl reported (the message and ``HTTPClientError/curlCode`` tell more),
        /// or a misuse such as iterating one body from two tasks at once.
        public static let internalError = Self(.internalError)

        /// The code's name, without associated data: suitable as a metric label.
        public var description: String {
            switch self.value {
            case .invalidRequest: return "invalidRequest"
            case .resolveFailed: return "resolveFailed"
            case .connectFailed: return "connectFailed"
            case .tlsFailed: return "tlsFailed"
            case .connectTimeout: return "connectTimeout"
            case .responseHeadTimeout: return "responseHeadTimeout"
            case .idleTimeout: return "idleTimeout"
            case .totalTimeout: return "totalTimeout"
            case .connectionClosed: return "connectionClosed"
            case .protocolError: return "protocolError"
            case .responseTooLarge: return "responseTooLarge"
            case .responseHeadTooLarge: return "responseHeadTooLarge"
            case .cancelled: return "cancelled"
            case .shutdown: return "shutdown"
            case .internalError: return "internalError"
            }
        }

        /// Whether this is one of the four timeout codes.
        public var isTimeout: Bool {
            switch self.value {
            case .connectTimeout, .responseHeadTimeout, .idleTimeout, .totalTimeout:
                return true
            default:
                return false
            }
        }
    }

    /// The failure class.
    public var code: Code

    /// What happened, in words. libcurl's message when libcurl reported it.
    public var message: String

    /// libcurl's `CURLcode`, when the failure came from libcurl.
    public var curlCode: Int?

    /// Creates an error.
    public init(code: Code, message: String, curlCode: Int? = nil) {
        self.code = code
        self.message = message
        self.curlCode = curlCode
    }

    public var description: String {
        if let curlCode = self.curlCode {
            return "HTTPClientError.\(self.code): \(self.message) (CURLcode \(curlCode))"
        }
        return "HTTPClientError.\(self.code): \(self.message)"
    }
}

extension HTTPClientError {
    static let cancelled = HTTPClientError(code: .cancelled, message: "the request was cancelled")
    static let shutdown = HTTPClientError(code: .shutdown, message: "the HTTP client was shut down")
    static let concurrentIteration = HTTPClientError(
        code: .internalError,
        message: "the response body is already being iterated by another task"
    )
}
