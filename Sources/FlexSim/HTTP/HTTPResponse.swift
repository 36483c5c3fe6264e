internal import NIOCore
internal import NIOHTTP1

/// A response written by hand: flexsim serialises HTTP/1.1 itself (rather than through
/// `HTTPResponseEncoder`) so that it can send a head slowly, cut a body short or send exactly the
/// bytes a fault calls for, and so that a small answer goes out in one write.
struct HTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: ByteBuffer

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Payload Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 529: "Site is overloaded"
        default: "Status \(status)"
        }
    }

    /// Status line and headers; `contentLength` nil means chunked.
    static func head(status: Int, headers: [(String, String)], contentLength: Int?, keepAlive: Bool) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(256)
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeString(String(status))
        buffer.writeStaticString(" ")
        buffer.writeString(self.reason(status))
        buffer.writeStaticString("\r\n")
        for (name, value) in headers {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if let contentLength {
            buffer.writeStaticString("content-length: ")
            buffer.writeString(String(contentLength))
            buffer.writeStaticString("\r\n")
        } else {
            buffer.writeStaticString("transfer-encoding: chunked\r\n")
        }
        if !keepAlive { buffer.writeStaticString("connection: close\r\n") }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// One chunk of a chunked body.
    static func chunk(_ data: ByteBuffer, into buffer: inout ByteBuffer) {
        guard data.readableBytes > 0 else { return }
        buffer.writeString(String(data.readableBytes, radix: 16))
        buffer.writeStaticString("\r\n")
        var data = data
        buffer.writeBuffer(&data)
        buffer.writeStaticString("\r\n")
    }

    static let lastChunk = ByteBuffer(string: "0\r\n\r\n")
}
