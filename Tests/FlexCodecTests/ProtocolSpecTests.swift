import Foundation
import NIOCore
import Testing

@testable import FlexCodec

/// Proto/PROTOCOL.md's hex examples are decoded with FlexCodec and must give exactly the frames
/// below; FlexCodec must also encode those frames to exactly the bytes in the document. When
/// either fails, the test prints the block as it should read, so the spec cannot drift from the
/// code.
@Suite("PROTOCOL.md matches the code")
struct ProtocolSpecTests {
    struct Block {
        var name: String
        var role: FrameDecoder.Role  // the side that DECODES this block
        var preface: Bool
        /// Frames, each with the compression its sender had negotiated at that point.
        var frames: [(FlexFrame, Compression)]
    }

    // MARK: Exchange 1: handshake and a unary call served by flex.

    static let request1 = InferenceRequest(
        requestID: "req-1",
        provider: .openAI,
        api: .chatCompletions,
        model: "gpt-5.4-mini",
        startWithin: "00h-00m-30s",
        providerKey: "sk-example",
        body: .nativeJSON(
            ByteBuffer(string: #"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Say hi"}]}"#)
        )
    )

    static let response1 = InferenceResponse(
        requestID: "req-1",
        nativeJSON: ByteBuffer(
            string:
                #"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-5.4-mini","service_tier":"flex","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#
        )
    )

    static let savings1 = SavingsRecord(
        requestID: "req-1",
        provider: .openAI,
        api: .chatCompletions,
        model: "gpt-5.4-mini",
        startWithin: "00h-00m-30s",
        tierRequested: .flex,
        tierServed: .flex,
        tierServedReported: "flex",
        flexAttempts: 1,
        flexWaitMicroseconds: 410_000,
        timeToStartMicroseconds: 412_000,
        tokens: TokenUsage(inputTokens: 9, outputTokens: 2),
        standardCostPicoUSD: 15_750_000,  // 9 x $0.75/M + 2 x $4.50/M
        actualCostPicoUSD: 7_875_000,
        savedPicoUSD: 7_875_000,
        feePicoUSD: 1_575_000,
        priceDate: "2026-11-26"
    )

    static func payload<M: FlexMessage>(_ message: M) -> ByteBuffer { try! MessageCoder().encode(message) }

    static let exchange1Client = Block(
        name: "exchange-1 client",
        role: .server,
        preface: true,
        frames: [
            (.hello(Hello(versions: [1], compression: [.lz4], agent: "flexclient-swift/0.1")), .none),
            (
                .requestHeaders(
                    1,
                    RequestHeaders(
                        method: RequestHeaders.Method.complete,
                        timeout: .seconds(120),
                        apiKey: "fxk_example"
                    )
                ), .none
            ),
            (.message(1, payload(request1), endStream: true), .none),
        ]
    )

    static let exchange1Server = Block(
        name: "exchange-1 server",
        role: .client,
        preface: false,
        frames: [
            (
                .hello(
                    Hello(
                        versions: [1],
                        compression: [.lz4],
                        limits: Limits(maxConcurrentStreams: 100),
                        agent: "flexd/0.1"
                    )
                ), .none
            ),
            (.responseHeaders(1, ResponseHeaders()), .lz4),
            (.message(1, payload(response1), endStream: false), .lz4),
            (.trailers(1, Trailers(status: .ok, savings: savings1)), .lz4),
        ]
    )

    // MARK: Exchange 2: a compressed streaming call that fell back, a cancelled call, ping, drain.

    static let longPrompt = (0..<12).map { index in
        "Rule \(index + 1): answer in the user's language, cite the policy section, and keep replies under 80 words."
    }.joined(separator: " ")

    static let request2 = InferenceRequest(
        requestID: "req-2",
        provider: .openAI,
        api: .responses,
        model: "gpt-5.4",
        startWithin: "00h-00m-05s",
        providerKey: "sk-example",
        body: .nativeJSON(
            ByteBuffer(
                string:
                    #"{"model":"gpt-5.4","stream":true,"instructions":"\#(longPrompt)","input":"Where is my refund?"}"#
            )
        )
    )

    static let request3 = InferenceRequest(
        requestID: "req-3",
        provider: .gemini,
        api: .generateContent,
        model: "gemini-2.5-flash",
        startWithin: "00h-05m-00s",
        providerKey: "AIexample",
        body: .nativeJSON(ByteBuffer(string: #"{"contents":[{"role":"user","parts":[{"text":"Summarise"}]}]}"#))
    )

    static let savings2 = SavingsRecord(
        requestID: "req-2",
        provider: .openAI,
        api: .responses,
        model: "gpt-5.4",
        startWithin: "00h-00m-05s",
        tierRequested: .flex,
        tierServed: .standard,
        tierServedReported: "default",
        fellBack: true,
        fallbackReason: .flexStartTimeout,
        flexAttempts: 1,
        flexWaitMicroseconds: 5_000_000,
        timeToStartMicroseconds: 5_380_000,
        tokens: TokenUsage(inputTokens: 310, outputTokens: 12),
        standardCostPicoUSD: 955_000_000,  // 310 x $2.50/M + 12 x $15/M
        actualCostPicoUSD: 955_000_000,
        savedPicoUSD: 0,
        feePicoUSD: 0,
        priceDate: "2026-11-26"
    )

    static let exchange2Client = Block(
        name: "exchange-2 client",
        role: .server,
        preface: true,
        frames: [
            (.hello(Hello(versions: [1], compression: [.lz4], agent: "flexclient-swift/0.1")), .none),
            // The client waited for the server's HELLO, so it may compress.
            (.requestHeaders(1, RequestHeaders(method: RequestHeaders.Method.stream)), .lz4),
            (.message(1, payload(request2), endStream: true), .lz4),
            (
                .requestHeaders(
                    3,
                    RequestHeaders(method: RequestHeaders.Method.complete, metadata: ["trace-id": "t-3"])
                ), .lz4
            ),
            (.message(3, payload(request3), endStream: true), .lz4),
            (.windowUpdate(1, increment: 65_536), .lz4),
            (.cancel(3, Cancel(code: .cancelled, reason: "user left")), .lz4),
            (.ping(0x0000_0000_0000_002A, ack: false), .lz4),
        ]
    )

    static let exchange2Server = Block(
        name: "exchange-2 server",
        role: .client,
        preface: false,
        frames: [
            (.hello(Hello(versions: [1], compression: [.lz4], agent: "flexd/0.1")), .none),
            (.responseHeaders(1, ResponseHeaders()), .lz4),
            (
                .message(
                    1,
                    payload(
                        StreamEvent.route(
                            RouteDecision(
                                tier: .standard,
                                fellBack: true,
                                fallbackReason: .flexStartTimeout,
                                flexWaitMicroseconds: 5_000_000
                            )
                        )
                    ),
                    endStream: false
                ), .lz4
            ),
            (
                .message(
                    1,
                    payload(
                        StreamEvent.native(
                            NativeEvent(
                                event: "response.output_text.delta",
                                data: ByteBuffer(
                                    string: #"{"type":"response.output_text.delta","delta":"Refunds take 5 days."}"#
                                )
                            )
                        )
                    ),
                    endStream: false
                ), .lz4
            ),
            (
                .trailers(
                    3,
                    Trailers(
                        status: Status(code: .cancelled, message: "cancelled by the client", errorCode: "cancelled")
                    )
                ), .lz4
            ),
            (.trailers(1, Trailers(status: .ok, savings: savings2)), .lz4),
            (.ping(0x0000_0000_0000_002A, ack: true), .lz4),
            (.goAway(GoAway(lastStreamID: 3, code: .ok, message: "draining", errorCode: "server_shutting_down")), .lz4),
        ]
    )

    static let blocks = [exchange1Client, exchange1Server, exchange2Client, exchange2Server]

    // MARK: Rendering and parsing

    static func encode(_ block: Block) throws -> [(FlexFrame, ByteBuffer)] {
        try block.frames.map { frame, compression in
            var bytes = ByteBuffer()
            try FrameEncoder(compression: compression).encode(frame, into: &bytes)
            return (frame, bytes)
        }
    }

    static func hexLines(_ bytes: some Collection<UInt8>) -> [String] {
        let all = Array(bytes)
        return stride(from: 0, to: all.count, by: 16).map { start in
            all[start..<min(all.count, start + 16)].map { String(format: "%02x", $0) }.joined(separator: " ")
        }
    }

    static func describe(_ frame: FlexFrame, _ bytes: ByteBuffer) -> String {
        let flags = FrameFlags(rawValue: bytes.getInteger(at: 5)!)
        var names: [String] = []
        if frame.type == .ping, flags.contains(.ack) {
            names.append("ACK")
        } else if flags.contains(.endStream) {
            names.append("END_STREAM")
        }
        if flags.contains(.compressed) { names.append("COMPRESSED") }
        let length = bytes.readableBytes - FrameHeader.size
        var text = "\(frame.type) stream=\(frame.streamID) length=\(length)"
        if !names.isEmpty { text += " flags=" + names.joined(separator: "|") }
        return text
    }

    static func render(_ block: Block) throws -> String {
        var lines = ["```hex \(block.name)"]
        if block.preface { lines.append("46 4c 45 58 44 2f 31 0a  # preface \"FLEXD/1\\n\"") }
        for (frame, bytes) in try encode(block) {
            let header = hexLines(bytes.readableBytesView.prefix(FrameHeader.size))[0]
            lines.append("\(header)  # \(describe(frame, bytes))")
            lines.append(contentsOf: hexLines(bytes.readableBytesView.dropFirst(FrameHeader.size)))
        }
        lines.append("```")
        return lines.joined(separator: "\n")
    }

    /// The bytes of the fenced block whose info string is "hex NAME", comments stripped.
    static func parse(_ document: String, name: String) -> [UInt8]? {
        let lines = document.components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: "```hex \(name)") else { return nil }
        var bytes: [UInt8] = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("```") { return bytes }
            let data = line.split(separator: "#", maxSplits: 1).first.map(String.init) ?? ""
            for pair in data.split(whereSeparator: { $0 == " " }) {
                guard let byte = UInt8(pair, radix: 16) else { return nil }
                bytes.append(byte)
            }
        }
        return nil
    }

    static let document =
        (try? String(contentsOf: Subprocess.repositoryRoot.appendingPathComponent("Proto/PROTOCOL.md"), encoding: .utf8))
        ?? ""

    @Test(arguments: [0, 1, 2, 3])
    func hexExampleDecodesToTheDocumentedFrames(_ index: Int) throws {
        let block = Self.blocks[index]
        let rendered = try Self.render(block)
        guard let bytes = Self.parse(Self.document, name: block.name) else {
            Issue.record("PROTOCOL.md has no readable block \"hex \(block.name)\"; it should read:\n\(rendered)")
            return
        }
        // Decode what the document says, frame by frame, switching compression on as the sender did.
        var decoder = FrameDecoder(role: block.role)
        var buffer = ByteBuffer(bytes: bytes)
        var decoded: [FlexFrame] = []
        for (_, compression) in block.frames {
            decoder.compression = compression == .lz4 ? .lz4 : decoder.compression
            guard let frame = try decoder.decode(buffer: &buffer) else { break }
            decoded.append(frame)
        }
        #expect(buffer.readableBytes == 0, "\(block.name): \(buffer.readableBytes) bytes left over")
        #expect(decoded == block.frames.map(\.0), "\(block.name) decodes to other frames; it should read:\n\(rendered)")
        // And the code encodes the frames to exactly the documented bytes.
        var encoded: [UInt8] = block.preface ? ConnectionPreface.bytes : []
        for (_, frameBytes) in try Self.encode(block) { encoded += Array(frameBytes.readableBytesView) }
        #expect(encoded == bytes, "\(block.name) is encoded differently; it should read:\n\(rendered)")
    }

    @Test func documentedMessagesDecode() throws {
        // The MESSAGE payloads of the examples decode as the messages the spec says they carry.
        let coder = MessageCoder()
        #expect(try coder.decode(InferenceRequest.self, from: Self.payload(Self.request1)) == Self.request1)
        #expect(try coder.decode(InferenceRequest.self, from: Self.payload(Self.request2)) == Self.request2)
        #expect(try coder.decode(InferenceResponse.self, from: Self.payload(Self.response1)) == Self.response1)
        // Exchange 2 really exercises compression in both directions.
        let client = try Self.encode(Self.exchange2Client)
        #expect(client.contains { FrameFlags(rawValue: $0.1.getInteger(at: 5)!).contains(.compressed) })
    }
}
