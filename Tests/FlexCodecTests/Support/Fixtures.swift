import FlexCodec
import NIOCore

/// Messages with every field set (and some with none), shared by the codec tests.
enum Fixtures {
    static func bytes(_ string: String) -> ByteBuffer { ByteBuffer(string: string) }

    static let hello = Hello(
        versions: [1, 2],
        compression: [.lz4, .none],
        limits: Limits(maxMessageSize: 8 * 1024 * 1024, maxConcurrentStreams: 250, initialWindowSize: 65_536),
        agent: "flexclient-swift/0.1"
    )

    static let requestHeaders = RequestHeaders(
        method: RequestHeaders.Method.complete,
        timeout: .milliseconds(2500),
        apiKey: "fxk_test_tenant_key",
        metadata: ["trace-id": "4bf92f3577b34da6", "feature": "summaries", "é": "ünïcode ✓"]
    )

    static let chatRequest = ChatRequest(
        messages: [
            .text(.system, "You are terse."),
            ChatMessage(
                role: .user,
                content: [
                    .text("What is in this image, and what's the weather in Paris?"),
                    .image(ImagePart(source: .url("https://example.com/cat.png"), detail: .high)),
                    .image(
                        ImagePart(
                            source: .data(ByteBuffer(bytes: [0x89, 0x50, 0x4E, 0x47, 0, 1, 2])),
                            mediaType: "image/png"
                        )
                    ),
                ]
            ),
            ChatMessage(
                role: .assistant,
                toolCalls: [
                    ToolCall(id: "call_1", name: "get_weather", argumentsJSON: #"{"city":"Paris"}"#),
                    ToolCall(id: "call_2", name: "get_time", argumentsJSON: #"{"tz":"Europe/Paris"}"#),
                ]
            ),
            ChatMessage(role: .tool, content: [.text(#"{"temp_c":21}"#)], toolCallID: "call_1", name: "get_weather"),
        ],
        tools: [
            ToolDefinition(
                name: "get_weather",
                description: "Current weather for a city",
                parametersJSONSchema: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#,
                strict: true
            )
        ],
        toolChoice: ToolChoice(mode: .named, name: "get_weather"),
        parallelToolCalls: false,
        responseFormat: ResponseFormat(
            type: .jsonSchema,
            name: "answer",
            jsonSchema: #"{"type":"object"}"#,
            strict: true
        ),
        temperature: 0,
        topP: 0.95,
        maxOutputTokens: 1024,
        stop: ["\n\n", "END"],
        reasoningEffort: .low,
        seed: -42,
        metadata: ["user": "u-123"]
    )

    static let nativeRequest = InferenceRequest(
        requestID: "req-0001",
        provider: .openAI,
        api: .chatCompletions,
        model: "gpt-5.4-mini",
        startWithin: "00h-00m-30s",
        providerKey: "sk-test-not-a-real-key",
        metadata: ["feature": "summaries"],
        body: .nativeJSON(bytes(#"{"model":"gpt-5.4-mini","messages":[{"role":"user","content":"Say hi"}]}"#)),
        retry: RetryOption(count: 3, backoff: .linear, jitter: false)
    )

    static let typedRequest = InferenceRequest(
        requestID: "req-0002",
        provider: .anthropic,
        api: .messages,
        model: "claude-haiku-4-5",
        startWithin: "default",
        providerKey: "ant-test-key",
        body: .chat(chatRequest)
    )

    static let tokens = TokenUsage(
        inputTokens: 1200,
        cachedInputTokens: 300,
        cacheWriteTokens: 50,
        outputTokens: 400,
        reasoningTokens: 128,
        cacheWrite1hTokens: 7
    )

    static let savings = SavingsRecord(
        requestID: "req-0001",
        provider: .openAI,
        api: .chatCompletions,
        model: "gpt-5.4-mini",
        startWithin: "00h-00m-30s",
        tierRequested: .flex,
        tierServed: .flex,
        tierServedReported: "flex",
        fellBack: false,
        fallbackReason: nil,
        flexAttempts: 1,
        flexWaitMicroseconds: 850_000,
        timeToStartMicroseconds: 912_345,
        tokens: tokens,
        standardCostPicoUSD: 2_722_500_000,
        actualCostPicoUSD: 1_361_250_000,
        savedPicoUSD: 1_361_250_000,
        feePicoUSD: 272_250_000,
        priceDate: "2026-11-26",
        retries: 2,
        tokensEstimated: true
    )

    static let failedTrailers = Trailers(
        status: Status(
            code: .unavailable,
            message: "the provider's standard tier failed",
            errorCode: "upstream_error",
            details: ["provider": "openai", "attempt": "standard"],
            upstream: UpstreamError(
                httpStatus: 503,
                type: "server_error",
                code: "overloaded",
                message: "Service unavailable",
                body: bytes(#"{"error":{"message":"Service unavailable"}}"#),
                retryAfter: .seconds(2)
            )
        ),
        savings: SavingsRecord(
            requestID: "req-9",
            provider: .gemini,
            api: .interactions,
            fellBack: true,
            // Revision 1.2: sent as FLEX_CAPACITY with fallback_predicted.
            fallbackReason: .flexScarce
        ),
        metadata: ["server": "flexd"]
    )

    static let response = InferenceResponse(
        requestID: "req-0002",
        nativeJSON: bytes(#"{"id":"msg_1","type":"message"}"#),
        chat: ChatResult(
            id: "msg_1",
            model: "claude-haiku-4-5",
            text: "A cat. It is 21 °C in Paris.",
            refusal: "",
            toolCalls: [ToolCall(id: "toolu_1", name: "get_weather", argumentsJSON: #"{"city":"Paris"}"#)],
            reasoningSummary: "Looked at the picture.",
            finishReason: .toolCalls,
            nativeFinishReason: "tool_use",
            usage: tokens
        )
    )

    static let streamEvents: [StreamEvent] = [
        .route(
            RouteDecision(
                tier: .standard,
                fellBack: true,
                // Revision 1.2: sent as FLEX_START_TIMEOUT with fallback_predicted.
                fallbackReason: .flexPredictedLate,
                flexWaitMicroseconds: 30_000_000
            )
        ),
        .native(
            NativeEvent(
                event: "response.output_text.delta",
                data: bytes(#"{"type":"response.output_text.delta","delta":"Hi"}"#)
            )
        ),
        .native(NativeEvent(data: bytes(#"{"choices":[]}"#))),
        .text("Hel"),
        .text(""),
        .toolCall(ToolCallDelta(index: 1, id: "call_9", name: "lookup", argumentsFragment: #"{"q":"#)),
        .toolCall(ToolCallDelta(index: 1, argumentsFragment: #""x"}"#)),
        .reasoning("thinking…"),
        .finish(FinishDelta(finishReason: .stop, nativeFinishReason: "stop", usage: tokens)),
        .finish(FinishDelta(finishReason: nil)),
    ]

    /// A realistic ~2 KB native request (for size-dependent tests and the benchmark's shape).
    static func nativeRequest(jsonBytes: Int) -> InferenceRequest {
        var request = nativeRequest
        request.body = .nativeJSON(bytes(SampleJSON.chatCompletion(approximateBytes: jsonBytes)))
        return request
    }
}

/// Realistic JSON, for compression and size tests.
enum SampleJSON {
    static func chatCompletion(approximateBytes: Int) -> String {
        let words = [
            "the", "router", "tries", "flex", "first", "and", "falls", "back", "to", "standard", "when",
            "capacity", "is", "short", "savings", "record", "tokens", "latency", "budget", "start_within",
        ]
        var messages: [String] = []
        var size = 0
        var index = 0
        while size < approximateBytes {
            var sentence: [String] = []
            for offset in 0..<(8 + index % 9) { sentence.append(words[(index * 7 + offset * 3) % words.count]) }
            let role = index % 2 == 0 ? "user" : "assistant"
            let message = #"{"role":"\#(role)","content":"\#(sentence.joined(separator: " ")) #\#(index)."}"#
            messages.append(message)
            size += message.utf8.count + 1
            index += 1
        }
        return
            #"{"model":"gpt-5.4-mini","service_tier":"flex","stream":true,"messages":[\#(messages.joined(separator: ","))]}"#
    }
}
