import FlexCore
import FlexJSON
import FlexSim
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small blocking HTTP/1.1 client over a raw socket, so tests control exactly when
/// a connection is closed (cancel before or after start) and see the raw bytes (faults).
final class TestHTTPClient {
    let fd: Int32

    init(port: Int) throws {
        self.fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(self.fd)
            throw TestError("connect failed")
        }
    }

    deinit { close(self.fd) }

    /// How long one read waits before giving up (20 s unless changed): `read(until:)` then
    /// returns what it has, which is how a test sees a stream stop without timing it.
    func setReadTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(self.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ path: String, method: String = "POST", headers: [String: String] = [:], body: String = "") {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: \(body.utf8.count)\r\n"
        if !body.isEmpty { text += "content-type: application/json\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n" + body
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes {
                Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            sent += n
        }
    }

    private var buffer: [UInt8] = []

    /// Reads until `predicate` holds on everything read so far, or EOF/timeout.
    @discardableResult
    func read(until predicate: (String) -> Bool) -> String {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !predicate(String(decoding: self.buffer, as: UTF8.self)) {
            let n = recv(self.fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            self.buffer += chunk[0..<n]
        }
        return String(decoding: self.buffer, as: UTF8.self)
    }

    /// Reads one whole response (content-length or chunked) and consumes exactly its bytes, so
    /// that pipelined responses that arrived together stay in the buffer for the next call.
    func response() -> TestResponse {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let length = Self.responseLength(self.buffer) {
                let raw = String(decoding: self.buffer[..<length], as: UTF8.self)
                self.buffer.removeFirst(length)
                return TestResponse(raw: raw)
            }
            let n = recv(self.fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            self.buffer += chunk[0..<n]
        }
        let raw = String(decoding: self.buffer, as: UTF8.self)
        self.buffer = []
        return TestResponse(raw: raw)
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for index in start...(bytes.count - needle.count) where bytes[index] == needle[0] {
            if Array(bytes[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }

    /// The byte length of the first complete response in `bytes`, if it is all there.
    static func responseLength(_ bytes: [UInt8]) -> Int? {
        guard let headEnd = self.find(Array("\r\n\r\n".utf8), in: bytes, from: 0) else { return nil }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self).lowercased()
        let bodyStart = headEnd + 4
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            guard let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
                return nil
            }
            return bytes.count >= bodyStart + length ? bodyStart + length : nil
        }
        if head.contains("transfer-encoding: chunked") {
            if bytes.count >= bodyStart + 5, Array(bytes[bodyStart..<(bodyStart + 5)]) == Array("0\r\n\r\n".utf8) {
                return bodyStart + 5
            }
            return self.find(Array("\r\n0\r\n\r\n".utf8), in: bytes, from: bodyStart).map { $0 + 7 }
        }
        return nil
    }

    func closeNow() { shutdown(self.fd, Int32(SHUT_RDWR)) }
}

struct TestResponse {
    let raw: String
    var status: Int { Int(self.raw.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0 }
    var headers: [String: String] {
        var result: [String: String] = [:]
        let head = self.raw.components(separatedBy: "\r\n\r\n").first ?? ""
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { result[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return result
    }
    /// The body with chunked framing removed (parsed on bytes: "\r\n" is one Character in Swift).
    var body: String {
        let bytes = Array(self.raw.utf8)
        var index = 0
        while index + 3 < bytes.count,
            !(bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10)
        { index += 1 }
        guard index + 3 < bytes.count else { return "" }
        let rest = Array(bytes[(index + 4)...])
        guard self.headers["transfer-encoding"] == "chunked" else { return String(decoding: rest, as: UTF8.self) }
        var out: [UInt8] = []
        var position = 0
        while position < rest.count {
            var lineEnd = position
            while lineEnd + 1 < rest.count, !(rest[lineEnd] == 13 && rest[lineEnd + 1] == 10) { lineEnd += 1 }
            guard lineEnd + 1 < rest.count,
                let size = Int(String(decoding: rest[position..<lineEnd], as: UTF8.self), radix: 16), size > 0
            else { break }
            let dataStart = lineEnd + 2
            let dataEnd = min(rest.count, dataStart + size)
            out += rest[dataStart..<dataEnd]
            position = dataEnd + 2
        }
        return String(decoding: out, as: UTF8.self)
    }
    var json: JSONValue? { try? JSONParser.parse(self.body) }
    /// `data:` payloads of an SSE body.
    var events: [String] {
        self.body.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("data: ") }.map {
            String($0.dropFirst(6)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
    var eventNames: [String] {
        self.body.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("event: ") }.map {
            String($0.dropFirst(7)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
