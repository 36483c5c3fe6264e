#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 connection over a raw socket, for tests of the HTTP door that must send exactly the
/// bytes they mean (pipelined requests, a half-closed socket, a head sent byte by byte) and read
/// the answers one by one, trailers included.
public final class RawHTTPConnection {
    public let fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var closedByPeer = false

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// One answer: status, headers (names lower-cased), the body (chunked framing removed) and
    /// the trailers.
    public struct Answer {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public var trailers: [(String, String)]

        public func header(_ name: String) -> String? { self.headers.first { $0.0 == name.lowercased() }?.1 }
        public func trailer(_ name: String) -> String? { self.trailers.first { $0.0 == name.lowercased() }?.1 }
        public var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    public init(port: Int) throws {
        self.fd = try TestSocket.connect(port: port)
    }

    deinit { close(self.fd) }

    public func write(_ text: String) throws { try TestSocket.send(self.fd, Array(text.utf8)) }

    public func write(_ bytes: [UInt8]) throws { try TestSocket.send(self.fd, bytes) }

    /// Stops sending (the client half-closes its socket).
    public func shutdownWrite() { shutdown(self.fd, Int32(SHUT_WR)) }

    /// A request with a JSON body (the connection kept alive unless `close`).
    public static func request(
        _ method: String,
        _ path: String,
        headers: [(String, String)] = [],
        body: String = "",
        close: Bool = false
    ) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        text += "content-length: \(body.utf8.count)\r\n"
        if close { text += "connection: close\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n" + body
    }

    /// The next whole answer; nil when the server closed before sending one. Throws after `timeout`.
    public func readAnswer(timeout: Duration = .seconds(30)) async throws -> Answer? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let answer = try self.parseAnswer() { return answer }
            if self.closedByPeer { return nil }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "no whole answer within \(timeout)")
            }
            try await self.fill()
        }
    }

    /// Reads until the server closes; throws after `timeout`.
    public func waitUntilClosed(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !self.closedByPeer {
            guard ContinuousClock.now < deadline else { throw Failure(description: "still open after \(timeout)") }
            try await self.fill()
        }
    }

    private func fill() async throws {
        guard let bytes = TestSocket.receiveAvailable(self.fd) else {
            self.closedByPeer = true
            return
        }
        if bytes.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
        self.buffer += bytes
    }

    /// Takes one whole answer off the buffer, if there is one.
    private func parseAnswer() throws -> Answer? {
        guard let headEnd = LoopbackHTTP.find([13, 10, 13, 10], in: self.buffer, from: 0) else { return nil }
        let lines = String(decoding: self.buffer[..<headEnd], as: UTF8.self).split(separator: "\r\n")
        let parts = (lines.first ?? "").split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line") }
        let headers = Self.fields(lines.dropFirst())
        let start = headEnd + 4
        if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
            guard self.buffer.count >= start + length else { return nil }
            let body = Array(self.buffer[start..<(start + length)])
            self.buffer.removeFirst(start + length)
            return Answer(status: status, headers: headers, body: body, trailers: [])
        }
        guard headers.contains(where: { $0.0 == "transfer-encoding" }) else {
            // No length and no chunks: the body runs to the connection's close.
            guard self.closedByPeer else { return nil }
            let body = Array(self.buffer[start...])
            self.buffer = []
            return Answer(status: status, headers: headers, body: body, trailers: [])
        }
        var body: [UInt8] = []
        var position = start
        while let lineEnd = LoopbackHTTP.find([13, 10], in: self.buffer, from: position) {
            let sizeText = String(decoding: self.buffer[position..<lineEnd], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                throw Failure(description: "bad chunk size \(sizeText)")
            }
            if size == 0 {
                guard let end = LoopbackHTTP.find([13, 10, 13, 10], in: self.buffer, from: lineEnd) else { return nil }
                let trailerText = String(decoding: self.buffer[(lineEnd + 2)..<end], as: UTF8.self)
                self.buffer.removeFirst(end + 4)
                return Answer(
                    status: status,
                    headers: headers,
                    body: body,
                    trailers: Self.fields(trailerText.split(separator: "\r\n")[...])
                )
            }
            guard self.buffer.count >= lineEnd + 2 + size + 2 else { return nil }
            body += self.buffer[(lineEnd + 2)..<(lineEnd + 2 + size)]
            position = lineEnd + 2 + size + 2
        }
        return nil
    }

    private static func fields(_ lines: ArraySlice<Substring>) -> [(String, String)] {
        lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            return (String(line[..<colon]).lowercased(), String(value))
        }
    }
}
