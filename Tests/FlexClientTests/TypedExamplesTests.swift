import FlexClient
import FlexCodec
import FlexTestSupport
import Foundation
import NIOCore
import Testing

/// The typed examples of the FlexClient documentation (*Typed examples*) and the README, so that
/// they cannot rot: one per
/// provider from Swift, each the code between an `// example: NAME` and `// end example` line
/// below, and the C client's typed commands; all run against the real `flexd` with its embedded
/// flexsim. Tests check that the documentation shows exactly this code.
@Suite("Typed examples against flexd", .serialized, .timeLimit(.minutes(3)))
struct TypedExamplesTests {
    // MARK: - The Swift examples

    static func openAIExample(_ client: FlexClient, openAIKey: String) async throws -> (ChatResult, SavingsRecord?) {
        // example: typed-openai
        let request = InferenceRequest(
            requestID: "typed-openai-1",
            provider: .openAI,
            api: .chatCompletions,
            model: "gpt-5.4-mini",
            startWithin: "00h-05m-00s",
            providerKey: Secret(openAIKey),
            body: .chat(
                ChatRequest(
                    messages: [.text(.system, "Answer in one line."), .text(.user, "What is flex processing?")],
                    temperature: 0.2
                )
            )
        )
        let (response, savings) = try await client.complete(request)
        let result = response.chat!  // typed: no OpenAI JSON to parse
        print(result.text)
        print(result.finishReason!, result.usage!.outputTokens)  // stop 243
        print(savings!.tierServed!, savings!.savedPicoUSD)  // flex 550125000
        // end example
        return (result, savings)
    }

    static func anthropicExample(
        _ client: FlexClient,
        anthropicKey: String
    ) async throws -> (String, FinishDelta?, SavingsRecord?) {
        // example: typed-anthropic
        let request = InferenceRequest(
            requestID: "typed-anthropic-1",
            provider: .anthropic,
            api: .messages,
            model: "claude-haiku-4-5",
            startWithin: "default",  // Anthropic has no flex tier
            providerKey: Secret(anthropicKey),
            body: .chat(
                ChatRequest(
                    messages: [.text(.user, "Write a haiku about waiting.")],
                    maxOutputTokens: 300
                )
            )
        )
        var text = ""
        var finish: FinishDelta?
        let savings = try await client.stream(request) { events in
            for try await event in events {
                switch event {
                case .text(let delta): text += delta  // typed deltas, not Anthropic's SSE events
                case .finish(let end): finish = end  // last: reason and usage
                default: break  // .route first; .toolCall, .reasoning
                }
            }
            return events.savings
        }
        print(text, finish!.finishReason!, finish!.nativeFinishReason)  // … stop end_turn
        // end example
        return (text, finish, savings)
    }

    static func geminiExample(_ client: FlexClient, geminiKey: String) async throws -> ChatResult {
        // example: typed-gemini
        let weather = ToolDefinition(
            name: "get_weather",
            description: "Current weather for a city",
            parametersJSONSchema: #"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#
        )
        let request = InferenceRequest(
            requestID: "typed-gemini-1",
            provider: .gemini,
            api: .generateContent,
            model: "gemini-3.8-flash",
            startWithin: "00h-05m-00s",
            providerKey: Secret(geminiKey),
            body: .chat(
                ChatRequest(
                    messages: [.text(.user, "What is the weather in Oslo?")],
                    tools: [weather],
                    toolChoice: ToolChoice(mode: .required)
                )
            )
        )
        let result = try await client.complete(request).0.chat!
        for call in result.toolCalls {  // finishReason: .toolCalls
            print(call.id, call.name, call.argumentsJSON)  // …-call-0 get_weather {"city":"…"}
        }
        // end example
        return result
    }

    static let keys = [
        "OPENAI_API_KEY": "sk-typed-examples", "ANTHROPIC_API_KEY": "sk-ant-typed-examples",
        "GEMINI_API_KEY": "AIza-typed-examples",
    ]

    @Test func theSwiftExamplesRunAgainstFlexd() async throws {
        try await FlexdEndToEndTests.withFlexd { flexd in
            try await withFlexClient(host: "127.0.0.1", port: flexd.port) { client in
                let (openAI, openAISavings) = try await Self.openAIExample(
                    client,
                    openAIKey: Self.keys["OPENAI_API_KEY"]!
                )
                #expect(!openAI.text.isEmpty && openAI.finishReason == .stop && openAI.nativeFinishReason == "stop")
                #expect(openAI.usage == openAISavings?.tokens)
                #expect(openAISavings?.requestID == "typed-openai-1" && openAISavings?.tierServed == .flex)
                #expect((openAISavings?.savedPicoUSD ?? 0) > 0)

                let (text, finish, anthropicSavings) = try await Self.anthropicExample(
                    client,
                    anthropicKey: Self.keys["ANTHROPIC_API_KEY"]!
                )
                #expect(!text.isEmpty)
                #expect(finish?.finishReason == .stop && finish?.nativeFinishReason == "end_turn")
                #expect(finish?.usage == anthropicSavings?.tokens)
                #expect(anthropicSavings?.tierServed == .standard && anthropicSavings?.provider == .anthropic)

                let gemini = try await Self.geminiExample(client, geminiKey: Self.keys["GEMINI_API_KEY"]!)
                #expect(gemini.finishReason == .toolCalls)
                #expect(gemini.toolCalls.map(\.name) == ["get_weather"])
                #expect(gemini.toolCalls.first?.argumentsJSON.contains(#""city":"#) == true, "\(gemini.toolCalls)")
            }
        }
    }

    // MARK: - The C client's typed commands

    /// The documented `flexc --typed` commands (blocks `flexc-typed`), one per provider.
    static let cExamples: [(provider: String, arguments: [String])] = [
        (
            "openai",
            [
                "--typed", "--provider", "openai", "--api", "chat_completions", "--model", "gpt-5.4-mini",
                "--start-within", "00h-05m-00s", "--provider-key-env", "OPENAI_API_KEY",
                "--system", "Answer in one line.", "--prompt", "What is flex processing?",
            ]
        ),
        (
            "anthropic",
            [
                "--typed", "--stream", "--provider", "anthropic", "--api", "messages", "--model", "claude-haiku-4-5",
                "--start-within", "default", "--provider-key-env", "ANTHROPIC_API_KEY",
                "--prompt", "Write a haiku about waiting.", "--max-output-tokens", "300",
            ]
        ),
        (
            "gemini",
            [
                "--typed", "--provider", "gemini", "--api", "generate_content", "--model", "gemini-3.8-flash",
                "--start-within", "00h-05m-00s", "--provider-key-env", "GEMINI_API_KEY",
                "--prompt", "Explain flex processing.", "--temperature", "0.2",
            ]
        ),
    ]

    @Test func theCClientsTypedCommandsRunAgainstFlexd() async throws {
        try await FlexdEndToEndTests.withFlexd { flexd in
            for (provider, arguments) in Self.cExamples {
                let streaming = arguments.contains("--stream")
                let run = await CClientTests.finish(
                    try await CClientTests.start(port: flexd.port, arguments: arguments, environment: Self.keys)
                )
                #expect(run.status == 0, "\(provider): \(run.output)")
                let lines = run.lines.filter { !$0.isEmpty }
                let tier = provider == "anthropic" ? "standard" : "flex"
                if streaming {
                    #expect(lines.first?.hasPrefix("route: tier=\(tier) ") == true, "\(provider): \(run.output)")
                    #expect(lines.contains { $0.hasPrefix("text: ") }, "\(provider): \(run.output)")
                } else {
                    // The answer's text comes first, as it is.
                    #expect(
                        lines.first.map { !$0.contains(": {") && !$0.hasPrefix("finish:") } == true,
                        "\(provider): \(run.output)"
                    )
                }
                #expect(lines.contains { $0.hasPrefix("finish: stop (") }, "\(provider): \(run.output)")
                #expect(lines.contains { $0.hasPrefix(#"usage: {"input":"#) }, "\(provider): \(run.output)")
                let savings = lines.first { $0.hasPrefix("savings: {") }
                #expect(savings?.contains(#""provider":"\#(provider)""#) == true, "\(provider): \(run.output)")
                #expect(savings?.contains(#""tier_served":"\#(tier)""#) == true, "\(provider): \(run.output)")
                #expect(lines.last == "status: OK", "\(provider): \(run.output)")
            }
        }
    }

    // MARK: - The documentation shows exactly this code

    static let repositoryRoot = CClientTests.repositoryRoot

    /// The lines strictly between the line `begin` and the next line `end` (both compared without
    /// surrounding spaces), less their common indentation.
    static func region(of text: String, from begin: String, to end: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == begin }),
            let last = lines[(first + 1)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == end })
        else { return nil }
        let body = lines[(first + 1)..<last]
        let indent = body.filter { !$0.allSatisfy { $0 == " " } }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return body.map { String($0.dropFirst(min(indent, $0.count))) }.joined(separator: "\n")
    }

    /// Where the examples are shown: the FlexClient documentation's article holds all of them; the
    /// README shows some (each one it shows must be exactly the tested code too).
    static let article = "/Sources/FlexClient/Documentation.docc/TypedExamples.md"
    static let readme = "/README.md"

    /// The lines of `document`'s code block right after the line `<!-- example: NAME -->`.
    static func block(_ name: String, in document: String = Self.article) throws -> String? {
        let text = try String(contentsOfFile: Self.repositoryRoot + document, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let marker = lines.firstIndex(of: "<!-- example: \(name) -->"), marker + 1 < lines.count,
            lines[marker + 1].hasPrefix("```"),
            let close = lines[(marker + 2)...].firstIndex(of: "```")
        else { return nil }
        return lines[(marker + 2)..<close].joined(separator: "\n")
    }

    @Test(arguments: ["typed-openai", "typed-anthropic", "typed-gemini"])
    func theDocumentationShowsTheSwiftExample(_ name: String) throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let example = try #require(Self.region(of: source, from: "// example: \(name)", to: "// end example"))
        let shown = try #require(try Self.block(name), "\(Self.article) has no block marked <!-- example: \(name) -->")
        #expect(shown == example)
        if let onTheFrontPage = try Self.block(name, in: Self.readme) {
            #expect(onTheFrontPage == example, "README.md shows \(name) differently")
        }
    }

    @Test func theFrontPageShowsATestedSwiftExample() throws {
        #expect(try Self.block("typed-openai", in: Self.readme) != nil, "README.md shows no tested Swift example")
    }

    @Test func theDocumentationShowsTheCFunctionThatBuildsTheTypedRequest() throws {
        let source = try String(contentsOfFile: Self.repositoryRoot + "/tools/flexc/flexc.c", encoding: .utf8)
        let function = try #require(
            Self.region(of: source, from: "/* example: typed-chat-request */", to: "/* end example */")
        )
        let shown = try #require(
            try Self.block("typed-chat-request"),
            "\(Self.article) has no block marked <!-- example: typed-chat-request -->"
        )
        #expect(shown == function)
    }

    /// The commands of a `flexc-typed` block, continued lines (a trailing backslash) joined.
    static func commands(in document: String) throws -> [String]? {
        guard let block = try Self.block("flexc-typed", in: document) else { return nil }
        return block.replacingOccurrences(of: #" *\\\n\s*"#, with: " ", options: .regularExpression)
            .split(separator: "\n").map(String.init).filter { $0.hasPrefix("$ tools/flexc/flexc ") }
    }

    static var testedCommands: [String] {
        Self.cExamples.map { _, arguments in
            "$ tools/flexc/flexc --target 127.0.0.1:7400 "
                + arguments.map { $0.contains(" ") ? "\"\($0)\"" : $0 }.joined(separator: " ")
        }
    }

    @Test func theDocumentationShowsTheCClientsTypedCommands() throws {
        let commands = try #require(
            try Self.commands(in: Self.article),
            "\(Self.article) has no block marked <!-- example: flexc-typed -->"
        )
        #expect(
            Set(commands) == Set(Self.testedCommands),
            "the article's flexc commands are not the tested ones:\n\(commands.joined(separator: "\n"))"
        )
        let shown = try #require(try Self.commands(in: Self.readme), "README.md shows no tested flexc command")
        #expect(
            !shown.isEmpty && Set(shown).isSubset(of: Set(Self.testedCommands)),
            "README.md shows a flexc command that is not tested:\n\(shown.joined(separator: "\n"))"
        )
    }
}
