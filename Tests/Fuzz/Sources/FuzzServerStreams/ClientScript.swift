import FlexCodec
import FlexCore
import NIOCore

/// Turns the fuzz input into what a client does on the connection, one step at a time: frames
/// (valid HEADERS, request MESSAGE, CANCEL, WINDOW_UPDATE, PING, GOAWAY, HELLO, each with fields
/// picked by the input), raw frames and raw bytes, delivered one read at a time or coalesced with
/// the next, time passing, and the client going away.
///
/// The first byte sets up the connection: how it starts (preface and HELLO, preface only, or
/// nothing), whether the client offers LZ4, and its HELLO's limits. Then each step is one byte:
/// its low 4 bits the operation, bit 7 "coalesce with the next step" (no read yet), bits 4–6 a
/// parameter; operations take further bytes as they need.
struct ClientScript {
    enum Step {
        /// Bytes for the server, and whether to deliver them now (as one read) or keep them for the
        /// next step's read.
        case send(ByteBuffer, deliver: Bool)
        /// The embedded event loop's time moves on (deadlines, handshake and idle timeouts).
        case advanceTime
        /// The client closes the connection.
        case disconnect
    }

    /// The marker written into a string that the encoder refuses to carry U+0000, replaced in the
    /// encoded bytes by a string of the same length that starts with U+0000.
    static let nulMarker = "NUL-MARKER"
    static let secretKey = "sk-fuzz-secret-key"
    /// A provider key with CR LF in it (header injection into the provider's request).
    static let crlfKey = "sk-fuzz-secret\r\nX-Injected: 1"

    private(set) var openedStreams: [StreamID] = []
    private var highest: UInt32 = 0
    private var encoder = FrameEncoder(compressionThreshold: 0)
    /// The limits the client's HELLO announced (the server's answers are checked against them).
    private(set) var announcedMaxMessageSize = ProtocolDefaults.maxMessageSize
    let offersLZ4: Bool
    private let start: UInt8
    private let hello: Hello

    init(_ input: inout FuzzInput) {
        let setup = input.byte()
        self.start = setup & 3
        self.offersLZ4 = setup & 4 != 0
        let limits = Limits(
            maxMessageSize: [0, 16 * 1024, 1 << 20, 100][Int(setup >> 3) & 3],
            maxConcurrentStreams: [0, 1, 3, 1000][Int(setup >> 5) & 3],
            initialWindowSize: [0, 1, 4096][Int(setup >> 7) & 1 + (setup & 3 == 3 ? 1 : 0)]
        )
        if limits.maxMessageSize != 0 { self.announcedMaxMessageSize = Int(limits.maxMessageSize) }
        self.hello = Hello(versions: [1], compression: self.offersLZ4 ? [.lz4] : [], limits: limits, agent: "fuzz")
    }

    /// The connection's first bytes, before the first step.
    mutating func opening() -> ByteBuffer {
        var bytes = ByteBuffer()
        if self.start != 2 { FrameEncoder.writePreface(into: &bytes) }
        if self.start == 0 || self.start == 3 { self.encode(.hello(self.hello), into: &bytes) }
        return bytes
    }

    mutating func next(_ input: inout FuzzInput) -> Step? {
        guard !input.isAtEnd else { return nil }
        let op = input.byte()
        let parameter = Int(op >> 4) & 7
        let deliver = op & 0x80 == 0
        var bytes = ByteBuffer()
        switch op & 0x0F {
        case 0, 1, 2:
            self.headers(parameter, &input, into: &bytes)
        case 3, 4, 5:
            self.request(parameter, &input, into: &bytes)
        case 6:
            let code: StatusCode = [.cancelled, .deadlineExceeded, .ok, .internal][parameter & 3]
            self.encode(
                .cancel(self.stream(&input), Cancel(code: code, reason: parameter > 3 ? "gone" : "")),
                into: &bytes
            )
        case 7:
            let increment: UInt32 = [0, 1, 1024, 65_536, 0x7FFF_FFFF, 0x8000_0000, 100, 16][parameter]
            Self.rawFrame(type: 0x07, flags: 0, stream: self.stream(&input), payload: increment, into: &bytes)
        case 8:
            self.encode(.ping(UInt64(input.uint32()), ack: parameter & 1 != 0), into: &bytes)
        case 9:
            let last = parameter & 1 == 0 ? StreamID.connection : StreamID(self.highest & 0x7FFF_FFFF)
            self.encode(.goAway(GoAway(lastStreamID: last, code: .ok, message: "client leaving")), into: &bytes)
        case 10:
            self.encode(.hello(self.hello), into: &bytes)
        case 11:
            // A raw frame: any type, flags and payload, on a stream of the script's choosing.
            let type = input.byte()
            let flags = input.byte()
            let stream = self.stream(&input)
            let payload = input.bytes(upTo: 40)
            bytes.writeInteger(UInt32(payload.count))
            bytes.writeInteger(type)
            bytes.writeInteger(flags)
            bytes.writeInteger(stream.rawValue)
            bytes.writeBytes(payload)
        case 12:
            bytes.writeBytes(input.bytes(upTo: 64))
        case 13:
            return .advanceTime
        case 14:
            return .disconnect
        default:
            // A valid call in one step: HEADERS and its request.
            self.headers(parameter & 1 == 0 ? 0 : 1, &input, into: &bytes)
            self.request(0, &input, stream: StreamID(self.highest), into: &bytes)
        }
        return .send(bytes, deliver: deliver)
    }

    // MARK: Frames

    private mutating func headers(_ parameter: Int, _ input: inout FuzzInput, into bytes: inout ByteBuffer) {
        let choice = input.byte()
        let id: StreamID
        if choice & 0xC0 == 0xC0, let reused = self.openedStreams.last {
            id = reused  // not above every earlier id: a connection error
        } else {
            self.highest = min(self.highest + 1 + UInt32(choice & 3), 0x7FFF_FFFF)
            id = StreamID(self.highest)
            self.openedStreams.append(id)
        }
        let methods = [
            RequestHeaders.Method.complete, RequestHeaders.Method.stream, RequestHeaders.Method.complete,
            "flexinference.v1.Inference/Unknown",
        ]
        let timeouts: [Duration?] = [nil, .microseconds(1), .seconds(3600), .milliseconds(1)]
        let keys: [Secret] = ["", Secret(Self.secretKey), Secret(Self.crlfKey), "k"]
        let headers = RequestHeaders(
            method: methods[(parameter + Int(choice >> 2)) & 3],
            timeout: timeouts[Int(choice >> 4) & 3],
            apiKey: keys[Int(choice >> 6) & 3],
            metadata: parameter & 4 != 0 ? ["trace": "fuzz"] : [:]
        )
        self.encode(.requestHeaders(id, headers), into: &bytes)
    }

    private mutating func request(
        _ parameter: Int,
        _ input: inout FuzzInput,
        stream: StreamID? = nil,
        into bytes: inout ByteBuffer
    ) {
        let id = stream ?? self.stream(&input)
        let choice = input.byte()
        let nul = parameter & 2 != 0
        let request = InferenceRequest(
            requestID: choice & 1 == 0 ? "" : "req-\(id)",
            provider: .openAI,
            api: .chatCompletions,
            model: nul && choice & 2 != 0
                ? Self.nulMarker : FuzzService.models[Int(choice >> 2) % FuzzService.models.count],
            startWithin: "00h-00m-30s",
            providerKey: choice & 0x80 != 0 ? Secret(Self.crlfKey) : Secret(Self.secretKey),
            metadata: nul && choice & 2 == 0 ? [Self.nulMarker: "v"] : [:],
            body: .nativeJSON(
                ByteBuffer(string: parameter & 4 != 0 ? String(repeating: "b", count: 3000) : #"{"q":1}"#)
            )
        )
        // END_STREAM unless parameter bit 0 says otherwise (a request MESSAGE without END_STREAM).
        self.encoder.compression = self.offersLZ4 && choice & 0x40 != 0 ? .lz4 : .none
        let start = bytes.writerIndex
        do {
            try self.encoder.encodeMessage(request, streamID: id, endStream: parameter & 1 == 0, into: &bytes)
        } catch {
            fatalError("cannot encode the script's own request: \(error)")
        }
        if nul { Self.replaceMarker(in: &bytes, from: start) }
    }

    /// A stream id: mostly one the script opened, sometimes the next unused or a small raw id.
    private mutating func stream(_ input: inout FuzzInput) -> StreamID {
        let choice = input.byte()
        if choice < 0xC0, !self.openedStreams.isEmpty {
            return self.openedStreams[Int(choice) % self.openedStreams.count]
        }
        if choice < 0xE0 { return StreamID(min(self.highest + 1, 0x7FFF_FFFF)) }
        return StreamID(UInt32(choice & 0x1F))
    }

    private func encode(_ frame: FlexFrame, into bytes: inout ByteBuffer) {
        do {
            try self.encoder.encode(frame, into: &bytes)
        } catch {
            fatalError("cannot encode the script's own frame \(frame): \(error)")
        }
    }

    private static func rawFrame(
        type: UInt8,
        flags: UInt8,
        stream: StreamID,
        payload: UInt32,
        into bytes: inout ByteBuffer
    ) {
        bytes.writeInteger(UInt32(4))
        bytes.writeInteger(type)
        bytes.writeInteger(flags)
        bytes.writeInteger(stream.rawValue)
        bytes.writeInteger(payload)
    }

    /// Replaces the NUL marker (when it is there uncompressed) by U+0000 and filler of its length.
    private static func replaceMarker(in bytes: inout ByteBuffer, from start: Int) {
        let marker = Array(Self.nulMarker.utf8)
        guard let view = bytes.getBytes(at: start, length: bytes.writerIndex - start), view.count >= marker.count
        else { return }
        for offset in 0...(view.count - marker.count) where view[offset..<(offset + marker.count)].elementsEqual(marker)
        {
            bytes.setInteger(UInt8(0), at: start + offset)
            return
        }
    }
}
