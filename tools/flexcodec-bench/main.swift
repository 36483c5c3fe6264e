// flexcodec-bench: how fast FlexCodec frames and unframes calls, on one core.
//
//     swift run -c release flexcodec-bench [--seconds S] [--json PATH]
//
// For each request size (200 B, 2 KB, 64 KB of realistic JSON in a native InferenceRequest, plus a
// 2 KB typed ChatRequest) and each of {no compression, LZ4}: frames encoded per second (Swift
// value -> protobuf-c -> framed bytes), frames decoded per second (bytes -> frame -> Swift value),
// MB/s of message payload, and the LZ4 ratio. Each figure is the best of three timed runs.

import FlexCodec
import Foundation
import NIOCore

struct Options {
    var seconds = 1.0
    var jsonPath: String?
    /// `--profile N`: instead of timing, encode and decode each case N times (for callgrind/perf).
    var profileIterations: Int?
    /// `--only TEXT`: run only the cases whose name contains TEXT.
    var only: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": self.seconds = Double(iterator.next() ?? "") ?? self.seconds
            case "--json": self.jsonPath = iterator.next()
            case "--profile": self.profileIterations = Int(iterator.next() ?? "")
            case "--only": self.only = iterator.next()
            case "-h", "--help":
                print("usage: flexcodec-bench [--seconds S] [--json PATH] [--profile ITERATIONS] [--only CASE]")
                exit(0)
            default:
                FileHandle.standardError.write(Data("flexcodec-bench: unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

/// Realistic chat JSON of about `bytes` bytes.
func chatJSON(bytes: Int) -> String {
    let words = [
        "the", "refund", "policy", "says", "customers", "may", "return", "items", "within", "thirty",
        "days", "of", "delivery", "unless", "they", "were", "opened", "or", "damaged", "please",
    ]
    var messages: [String] = []
    var size = 0
    var index = 0
    while size < bytes - 120 {
        let count = 6 + (index * 5) % 11
        let text = (0..<count).map { words[(index * 7 + $0 * 3) % words.count] }.joined(separator: " ")
        let role = index % 2 == 0 ? "user" : "assistant"
        let message = #"{"role":"\#(role)","content":"\#(text) (\#(index))."}"#
        messages.append(message)
        size += message.utf8.count + 1
        index += 1
    }
    return #"{"model":"gpt-5.4-mini","stream":true,"messages":[\#(messages.joined(separator: ","))]}"#
}

func nativeRequest(bytes: Int) -> InferenceRequest {
    InferenceRequest(
        requestID: "req-bench-000001",
        provider: .openAI,
        api: .chatCompletions,
        model: "gpt-5.4-mini",
        startWithin: "00h-00m-30s",
        providerKey: "sk-bench-not-a-real-key",
        metadata: ["feature": "bench"],
        body: .nativeJSON(ByteBuffer(string: chatJSON(bytes: bytes)))
    )
}

func typedRequest(bytes: Int) -> InferenceRequest {
    var messages: [ChatMessage] = [.text(.system, "You answer questions about orders in one short paragraph.")]
    var size = 60
    var index = 0
    while size < bytes - 200 {
        let text = "Message \(index): where is order \(1000 + index)? It was due on the \(index % 28 + 1)th."
        messages.append(.text(index % 2 == 0 ? .user : .assistant, text))
        size += text.utf8.count + 6
        index += 1
    }
    let chat = ChatRequest(
        messages: messages,
        tools: [
            ToolDefinition(
                name: "lookup_order",
                description: "Find an order",
                parametersJSONSchema: #"{"type":"object","properties":{"id":{"type":"string"}}}"#
            )
        ],
        temperature: 0.2,
        maxOutputTokens: 400
    )
    return InferenceRequest(
        requestID: "req-bench-000002",
        provider: .anthropic,
        api: .messages,
        model: "claude-haiku-4-5",
        startWithin: "default",
        providerKey: "ant-bench",
        body: .chat(chat)
    )
}

/// Runs `body` repeatedly for `seconds`, three times; returns the best rate in calls per second.
/// With `--profile N` it runs `body` exactly N times instead and returns 0.
func measure(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
    if let iterations = options.profileIterations {
        for _ in 0..<iterations { try body() }
        return 0
    }
    var best = 0.0
    for _ in 0..<3 {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        var calls = 0
        repeat {
            for _ in 0..<64 { try body() }
            calls += 64
        } while clock.now < deadline
        let elapsed = clock.now - start
        let rate = Double(calls) / elapsed.seconds
        best = max(best, rate)
    }
    return best
}

struct Row: Codable {
    var message: String
    var messageBytes: Int
    var compression: String
    var frameBytes: Int
    var lz4Ratio: Double?
    var encodesPerSecond: Double
    var decodesPerSecond: Double
    var encodeMBps: Double
    var decodeMBps: Double
}

let options = Options(CommandLine.arguments)
let cases: [(String, InferenceRequest)] = [
    ("native 200 B", nativeRequest(bytes: 200)),
    ("native 2 KB", nativeRequest(bytes: 2048)),
    ("native 64 KB", nativeRequest(bytes: 65536)),
    ("typed 2 KB", typedRequest(bytes: 2048)),
]

var rows: [Row] = []
for (name, request) in cases where options.only.map(name.contains) ?? true {
    let messageBytes = try MessageCoder().encode(request).readableBytes
    for compression in [Compression.none, .lz4] {
        var encoder = FrameEncoder(compression: compression, maxMessageSize: 1 << 24)
        var out = ByteBuffer()
        out.reserveCapacity(messageBytes + 64)
        let encodes = try measure(seconds: options.seconds) {
            out.clear()
            try encoder.encodeMessage(request, streamID: 1, into: &out)
        }
        let frame = out

        // The decoder needs the handshake first; then it decodes the same MESSAGE frame again and
        // again, and unpacks it into Swift values.
        var decoder = FrameDecoder(role: .client, maxMessageSize: 1 << 24)
        var hello = ByteBuffer()
        try FrameEncoder().encode(.hello(Hello(versions: [1])), into: &hello)
        _ = try decoder.decode(buffer: &hello)
        decoder.compression = compression
        let coder = MessageCoder()
        var checked = false
        let decodes = try measure(seconds: options.seconds) {
            var input = frame
            guard case .message(_, let payload, _) = try decoder.decode(buffer: &input) else { fatalError("no frame") }
            let decoded = try coder.decode(InferenceRequest.self, from: payload)
            if !checked {
                precondition(decoded == request, "decoded request differs")
                checked = true
            }
        }
        let compressed = FrameFlags(rawValue: frame.getInteger(at: 5)!).contains(.compressed)
        let payloadBytes = frame.readableBytes - FrameHeader.size
        rows.append(
            Row(
                message: name,
                messageBytes: messageBytes,
                compression: compression == .lz4 ? (compressed ? "lz4" : "lz4 (not smaller, sent raw)") : "none",
                frameBytes: frame.readableBytes,
                lz4Ratio: compression == .lz4 && compressed ? Double(messageBytes) / Double(payloadBytes) : nil,
                encodesPerSecond: encodes,
                decodesPerSecond: decodes,
                encodeMBps: encodes * Double(messageBytes) / 1e6,
                decodeMBps: decodes * Double(messageBytes) / 1e6
            )
        )
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

print(
    "flexcodec-bench: \(ProcessInfo.processInfo.activeProcessorCount) cores visible, one used; best of 3 x \(options.seconds) s"
)
print(
    pad("message", 14),
    pad("bytes", 7),
    pad("compression", 12),
    pad("frame", 7),
    pad("ratio", 6),
    pad("enc/s", 10),
    pad("dec/s", 10),
    pad("enc MB/s", 9),
    pad("dec MB/s", 9)
)
for row in rows {
    print(
        pad(row.message, 14),
        pad(String(row.messageBytes), 7),
        pad(String(row.compression.prefix(12)), 12),
        pad(String(row.frameBytes), 7),
        pad(row.lz4Ratio.map { String(format: "%.2f", $0) } ?? "-", 6),
        pad(String(format: "%.0f", row.encodesPerSecond), 10),
        pad(String(format: "%.0f", row.decodesPerSecond), 10),
        pad(String(format: "%.0f", row.encodeMBps), 9),
        pad(String(format: "%.0f", row.decodeMBps), 9)
    )
}
if let path = options.jsonPath {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(rows).write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
}
