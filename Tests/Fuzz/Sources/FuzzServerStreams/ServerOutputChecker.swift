import FlexCodec
import FlexCore
import Glibc
import NIOCore

/// Reads what the server wrote as a client would, and traps on anything a client could not
/// accept: bytes that do not decode as frames, a first frame other than HELLO or GOAWAY, a second
/// HELLO, an answer on a stream after its TRAILERS, a second TRAILERS, a MESSAGE before the
/// stream's HEADERS, an unanswered PING sent as a request, an error code missing from the table.
struct ServerOutputChecker {
    private var decoder: FrameDecoder
    private var buffer = ByteBuffer()
    private var sawHello = false
    private var sawFrame = false
    private var headersSent: Set<StreamID> = []
    private(set) var finished: Set<StreamID> = []

    init(maxMessageSize: Int) {
        self.decoder = FrameDecoder(role: .client, maxMessageSize: maxMessageSize)
    }

    mutating func receive(_ bytes: inout ByteBuffer) {
        self.buffer.writeBuffer(&bytes)
        do {
            while let frame = try self.decoder.decode(buffer: &self.buffer) { self.check(frame) }
        } catch {
            fatalError("the server wrote bytes a client cannot decode: \(error)")
        }
    }

    private mutating func check(_ frame: FlexFrame) {
        defer { self.sawFrame = true }
        if tracing { print("server: \(frame)") }
        switch frame {
        case .hello(let hello):
            require(!self.sawFrame, "the server's HELLO is not its first frame")
            self.sawHello = true
            require(hello.versions == [1], "the server's HELLO names \(hello.versions), not the one version offered")
            self.decoder.compression = hello.compression.first ?? .none
        case .goAway(let goAway):
            Self.checkErrorCode(goAway.errorCode, goAway.code, "GOAWAY")
        case .responseHeaders(let id, _):
            require(self.sawHello, "HEADERS before the server's HELLO")
            require(!self.finished.contains(id), "HEADERS on stream \(id) after its TRAILERS")
            require(self.headersSent.insert(id).inserted, "a second HEADERS on stream \(id)")
        case .message(let id, _, _):
            require(self.headersSent.contains(id), "a MESSAGE on stream \(id) before its HEADERS")
            require(!self.finished.contains(id), "a MESSAGE on stream \(id) after its TRAILERS")
        case .trailers(let id, let trailers):
            require(self.sawHello, "TRAILERS before the server's HELLO")
            require(self.finished.insert(id).inserted, "a second TRAILERS on stream \(id)")
            Self.checkErrorCode(trailers.status.errorCode, trailers.status.code, "TRAILERS")
        case .ping(_, let ack):
            require(ack, "the server sent a PING that is not an answer")
        case .windowUpdate(let id, _):
            require(!self.finished.contains(id), "WINDOW_UPDATE on stream \(id) after its TRAILERS")
        case .requestHeaders, .cancel:
            fatalError("the client decoder returned a client-only frame")
        }
    }

    private static func checkErrorCode(_ name: String, _ code: StatusCode, _ frame: String) {
        guard !name.isEmpty else {
            require(code == .ok, "\(frame) with status \(code) and no error code")
            return
        }
        guard let entry = ErrorCode(name: name) else { fatalError("\(frame) error code \(name) is not in the table") }
        require(entry.allows(code), "\(frame) error code \(name) with status \(code), which the table does not allow")
    }
}

/// `FUZZ_TRACE=1`: print what the server writes and how each run ends (to read a corpus entry).
let tracing = getenv("FUZZ_TRACE") != nil

@inline(never)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
