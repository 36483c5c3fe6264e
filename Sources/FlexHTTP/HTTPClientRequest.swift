public import NIOCore

/// One HTTP request for `HTTPClient.execute(_:logger:)`.
///
/// ```swift
/// var request = HTTPClientRequest(url: "https://api.openai.com/v1/chat/completions")
/// request.method = .POST
/// request.headers.add(name: "content-type", value: "application/json")
/// request.headers.add(name: "authorization", value: "Bearer \(key)")  // always redacted
/// request.body = ByteBuffer(string: json)
/// request.timeouts = HTTPTimeouts(connect: .seconds(5), responseHead: .seconds(30), idle: .seconds(20))
/// ```
public struct HTTPClientRequest: Sendable {
    /// The absolute `http://` or `https://` URL. Other schemes are rejected with
    /// ``HTTPClientError/Code/invalidRequest``.
    public var url: String

    /// The method; defaults to `GET`.
    public var method: HTTPMethod

    /// The header fields, sent in order. FlexHTTP adds none of its own except `Content-Length` for a
    /// body (and `Host`), and suppresses libcurl's `Accept: */*`, `Expect: 100-continue` and form
    /// `Content-Type` defaults.
    public var headers: HTTPHeaders

    /// The body, sent with a `Content-Length`; `nil` for none.
    public var body: ByteBuffer?

    /// Timeouts for this request; `nil` uses the client's ``HTTPClient/Configuration/timeouts``.
    public var timeouts: HTTPTimeouts?

    /// Cancels the request from outside its task (``HTTPCancellationHandle``); `nil` for none.
    public var cancellation: HTTPCancellationHandle?

    /// libcurl's receive buffer for this request, in bytes, instead of the client's
    /// ``HTTPClient/Configuration/receiveBufferSize`` (same range, HTTP/1.1 only); `nil` for the
    /// client's. A request expected to wait long for a small streamed answer can take the minimum,
    /// 1 KiB: flexd's flex attempts do.
    public var receiveBufferSize: Int?

    /// Creates a `GET` request with no headers and no body.
    public init(url: String) {
        self.url = url
        self.method = .GET
        self.headers = HTTPHeaders()
        self.body = nil
        self.timeouts = nil
        self.cancellation = nil
        self.receiveBufferSize = nil
    }
}

extension HTTPClientRequest: CustomStringConvertible {
    /// Method and URL without query string or userinfo, and headers with sensitive values redacted.
    public var description: String {
        "\(self.method) \(URLParts(self.url).redacted) \(self.headers)"
    }
}
