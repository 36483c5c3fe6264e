public import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small blocking HTTP/1.1 client for tests against flexsim on loopback: one
/// request per connection (`connection: close`), the answer read to EOF, chunked framing removed.
/// It stands in for FlexHTTP until that lands; it sees the raw bytes, so a cut stream stays cut.
public enum LoopbackHTTP {
    public struct Response {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var bodyBuffer: ByteBuffer { ByteBuffer(bytes: self.body) }
        public var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func send(
        port: Int,
        method: String = "POST",
        path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer = ByteBuffer()
    ) throws(Failure) -> Response {
        let fd: Int32
        do {
            fd = try TestSocket.connect(port: port)
        } catch {
            throw Failure(description: error.description)
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var head =
            "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: \(body.readableBytes)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + Array(body.readableBytesView)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }

        var raw: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            raw += chunk[0..<n]
        }
        return try self.parse(raw)
    }

    public static func parse(_ raw: [UInt8]) throws(Failure) -> Response {
        guard let headEnd = self.find([13, 10, 13, 10], in: raw, from: 0) else {
            throw Failure(description: "no complete HTTP head in \(raw.count) bytes")
        }
        let lines = String(decoding: raw[..<headEnd], as: UTF8.self).split(
            separator: "\r\n",
            omittingEmptySubsequences: false
        )
        let statusParts = (lines.first ?? "").split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "bad status line")
        }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]).trimmedOf(" "))
            )
        }
        var body = Array(raw[(headEnd + 4)...])
        if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1.lowercased() == "chunked" }) {
            body = self.dechunk(body)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// Removes chunked framing; a cut body yields what arrived whole.
    public static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var position = 0
        while let lineEnd = self.find([13, 10], in: bytes, from: position) {
            let sizeText = String(decoding: bytes[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmedOf(" "), radix: 16), size > 0 else { break }
            let start = lineEnd + 2
            let end = min(bytes.count, start + size)
            out += bytes[start..<end]
            position = end + 2
            if position >= bytes.count { break }
        }
        return out
    }

    public static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0] && bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

extension StringProtocol {
    fileprivate func trimmedOf(_ character: Character) -> String {
        String(self.drop(while: { $0 == character }).reversed().drop(while: { $0 == character }).reversed())
    }
}
