import FlexJSON
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 exchange over a raw loopback socket: the request is written, the answer read to
/// its end (Content-Length, the last chunk, or the peer closing), so a test sees the provider's
/// bytes exactly, including a stream the peer cut. Blocking, with a 20 s receive timeout; FlexHTTP
/// (the router's libcurl client) replaces it once it is on main.
enum RawHTTPClient {
    static func exchange(
        port: Int,
        method: String = "POST",
        path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer = ByteBuffer()
    ) throws -> RawHTTPResponse {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError("socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw RawHTTPError("connect to 127.0.0.1:\(port) failed") }

        var head =
            "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1:\(port)\r\ncontent-length: \(body.readableBytes)\r\nconnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var request = Array(head.utf8)
        request += body.readableBytesView
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawHTTPError("send failed") }
            sent += n
        }

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while RawHTTPResponse.completeLength(received) == nil {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            received += chunk[0..<n]
        }
        return try RawHTTPResponse(raw: received)
    }
}

/// A parsed HTTP response: status, headers in order, and the body with chunked framing removed.
struct RawHTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// Whether the body arrived whole (false when the peer closed mid-body).
    var complete: Bool

    var bodyBuffer: ByteBuffer { ByteBuffer(bytes: self.body) }
    var text: String { String(decoding: self.body, as: UTF8.self) }
    var json: JSONValue? { try? JSONParser.parse(self.body) }

    func header(_ name: String) -> String? {
        self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    init(raw: [UInt8]) throws {
        guard let headEnd = Self.find([13, 10, 13, 10], in: raw, from: 0) else {
            throw RawHTTPError("no complete response head")
        }
        let lines = String(decoding: raw[..<headEnd], as: UTF8.self).split(
            separator: "\r\n",
            omittingEmptySubsequences: false
        )
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw RawHTTPError("bad status line") }
        self.status = status
        self.headers = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmed(" "))
        }
        let rest = Array(raw[(headEnd + 4)...])
        if self.headers.contains(where: {
            $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked")
        }) {
            (self.body, self.complete) = Self.dechunk(rest)
        } else if let length = self.headers.first(where: { $0.0.lowercased() == "content-length" }).flatMap({
            Int($0.1)
        }) {
            self.body = Array(rest.prefix(length))
            self.complete = rest.count >= length
        } else {
            self.body = rest
            self.complete = true
        }
    }

    /// The byte length of the whole response once it has all arrived, else nil. Only the head and
    /// the tail are looked at (the request asked the server to close after one response), so
    /// calling it after every read stays cheap for a body of many megabytes.
    static func completeLength(_ bytes: [UInt8]) -> Int? {
        guard let headEnd = self.find([13, 10, 13, 10], in: bytes, from: 0) else { return nil }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self).lowercased()
        let bodyStart = headEnd + 4
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            guard let length = Int(line.dropFirst("content-length:".count).trimmed(" ")) else { return nil }
            return bytes.count >= bodyStart + length ? bodyStart + length : nil
        }
        if head.contains("transfer-encoding: chunked") {
            let last = Array("0\r\n\r\n".utf8)
            if bytes.count - bodyStart == last.count, bytes.suffix(last.count).elementsEqual(last) {
                return bytes.count
            }
            if bytes.count - bodyStart > last.count, bytes.suffix(last.count + 2).elementsEqual([13, 10] + last) {
                return bytes.count
            }
        }
        return nil
    }

    static func dechunk(_ bytes: [UInt8]) -> ([UInt8], Bool) {
        var out: [UInt8] = []
        var position = 0
        while position < bytes.count {
            guard let lineEnd = self.find([13, 10], in: bytes, from: position),
                let size = Int(String(decoding: bytes[position..<lineEnd], as: UTF8.self), radix: 16)
            else { return (out, false) }
            if size == 0 { return (out, true) }
            let start = lineEnd + 2
            let end = min(bytes.count, start + size)
            out += bytes[start..<end]
            if end < start + size { return (out, false) }
            position = end + 2
        }
        return (out, false)
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for index in start...(bytes.count - needle.count) where bytes[index] == needle[0] {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
        }
        return nil
    }
}

struct RawHTTPError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension StringProtocol {
    func trimmed(_ character: Character) -> String {
        var view = Substring(self)
        while view.first == character { view.removeFirst() }
        while view.last == character { view.removeLast() }
        return String(view)
    }
}
