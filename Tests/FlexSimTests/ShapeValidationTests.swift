import FlexCore
import FlexJSON
import FlexSim
import Testing

/// flexsim checks tools, tool choices, calls, results and image parts as the real APIs do, so that
/// a request it accepts (a typed request flexd translated, say) is one the provider would accept.
@Suite struct ShapeValidationTests {
    struct Case: Sendable, CustomStringConvertible {
        var path: String
        var headers: [String: String]
        var body: String
        /// A fragment of the 400 error body; nil when the request must be accepted.
        var expect: String?
        var description: String { "\(self.path) \(self.expect ?? "accepted")" }
    }

    static let chat = "/openai/v1/chat/completions"
    static let responses = "/openai/v1/responses"
    static let messages = "/anthropic/v1/messages"
    static let gemini = "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
    static let interactions = "/gemini/v1beta/interactions"

    static let user = #"{"role":"user","content":"Weather?"}"#
    static let chatTool = #"{"type":"function","function":{"name":"w","parameters":{"type":"object"}}}"#

    static let cases: [Case] = [
        // Chat Completions
        Case(
            path: chat,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","messages":[\#(user),{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"w","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"4"}],"tools":[\#(chatTool)]}"#,
            expect: nil
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","messages":[\#(user),{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"w","arguments":"{}"}}]}]}"#,
            expect: "messages[1].tool_calls[0].id"
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","messages":[\#(user),{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"w","arguments":{}}}]}]}"#,
            expect: "messages[1].tool_calls[0].function.arguments"
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"tiny"}}]}]}"#,
            expect: "detail"
        ),
        Case(
            path: chat,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","messages":[\#(user),{"role":"tool","tool_call_id":"c","content":[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]}]}"#,
            expect: "messages[1].content[0].type"
        ),
        // Responses
        Case(
            path: responses,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://x/a.png","detail":"auto"}]}],"tools":[{"type":"function","name":"w","parameters":{"type":"object"},"strict":false}]}"#,
            expect: nil
        ),
        Case(
            path: responses,
            headers: openAIKey,
            body: #"{"model":"gpt-5","input":[{"role":"user","content":[{"type":"input_image","detail":"auto"}]}]}"#,
            expect: "image_url"
        ),
        Case(
            path: responses,
            headers: openAIKey,
            body: #"{"model":"gpt-5","input":"x","tools":[{"type":"function","name":"w","strict":"yes"}]}"#,
            expect: "tools[0].strict"
        ),
        Case(
            path: responses,
            headers: openAIKey,
            body:
                #"{"model":"gpt-5","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"output_text","text":"4"}]}]}"#,
            expect: "output[0].type"
        ),
        // Anthropic
        Case(
            path: messages,
            headers: anthropicKey,
            body:
                #"{"model":"claude-haiku-4-5","max_tokens":50,"messages":[\#(user)],"tools":[{"name":"w","input_schema":{"type":"object"},"strict":true}],"tool_choice":{"type":"any","disable_parallel_tool_use":true},"output_config":{"effort":"low"}}"#,
            expect: nil
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body: #"{"model":"claude-haiku-4-5","max_tokens":50,"messages":[\#(user)],"tools":[{"name":"w"}]}"#,
            expect: "tools.0.input_schema: Field required"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body:
                #"{"model":"claude-haiku-4-5","max_tokens":50,"messages":[\#(user)],"tools":[{"name":"w","parameters":{"type":"object"},"input_schema":{"type":"object"}}]}"#,
            expect: "tools.0.parameters: Extra inputs are not permitted"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body:
                #"{"model":"claude-haiku-4-5","max_tokens":50,"messages":[\#(user)],"tools":[{"name":"w","input_schema":{"type":"object"}}],"tool_choice":{"type":"none","disable_parallel_tool_use":true}}"#,
            expect: "tool_choice.disable_parallel_tool_use"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body:
                #"{"model":"claude-haiku-4-5","max_tokens":50,"messages":[\#(user),{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"w","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"video"}]}]}]}"#,
            expect: "messages.2.content.0.content.0.type"
        ),
        Case(
            path: messages,
            headers: anthropicKey,
            body:
                #"{"model":"claude-haiku-4-5","max_tokens":50,"messages":[\#(user)],"output_config":{"effort":"extreme"}}"#,
            expect: "output_config.effort"
        ),
        // Gemini generateContent
        Case(
            path: gemini,
            headers: geminiKey,
            body:
                #"{"contents":[{"role":"user","parts":[{"text":"x"}]},{"role":"model","parts":[{"functionCall":{"name":"w","args":{}},"thoughtSignature":"c2ln"}]},{"role":"user","parts":[{"functionResponse":{"name":"w","response":{"output":"4"}}}]}],"tools":[{"functionDeclarations":[{"name":"w","parametersJsonSchema":{"type":"object"}}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["w"]}}}"#,
            expect: nil
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body: #"{"contents":[{"role":"model","parts":[{"functionCall":{"args":{}}}]}]}"#,
            expect: "function_call.name"
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body: #"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"w","response":"4"}}]}]}"#,
            expect: "function_response.response"
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body: #"{"contents":[{"role":"user","parts":[{"fileData":{"mimeType":"image/png"}}]}]}"#,
            expect: "file_data.file_uri"
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body:
                #"{"contents":[{"parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}}}"#,
            expect: "SOMETIMES"
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body:
                #"{"contents":[{"parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO","allowedFunctionNames":["w"]}}}"#,
            expect: "allowed_function_names"
        ),
        Case(
            path: gemini,
            headers: geminiKey,
            body:
                #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"w","parameters":{"type":"OBJECT"},"parametersJsonSchema":{"type":"object"}}]}]}"#,
            expect: "cannot both be set"
        ),
        // Interactions
        Case(
            path: interactions,
            headers: geminiKey,
            body:
                #"{"model":"gemini-2.5-flash","input":[{"type":"user_input","content":[{"type":"text","text":"x"},{"type":"image","uri":"https://x/a.png","mime_type":"image/png","resolution":"low"}]},{"type":"function_call","id":"f","name":"w","arguments":{}},{"type":"function_result","call_id":"f","name":"w","result":"4"}],"tools":[{"type":"function","name":"w","parameters":{"type":"object"}}],"generation_config":{"tool_choice":{"allowed_tools":{"mode":"any","tools":["w"]}}},"response_format":{"type":"text","mime_type":"application/json","schema":{"type":"object"}}}"#,
            expect: nil
        ),
        Case(
            path: interactions,
            headers: geminiKey,
            body: #"{"model":"gemini-2.5-flash","input":[{"type":"function_call","name":"w","arguments":{}}]}"#,
            expect: "input[0].id"
        ),
        Case(
            path: interactions,
            headers: geminiKey,
            body: #"{"model":"gemini-2.5-flash","input":[{"type":"function_result","call_id":"f"}]}"#,
            expect: "input[0].result"
        ),
        Case(
            path: interactions,
            headers: geminiKey,
            body:
                #"{"model":"gemini-2.5-flash","input":[{"type":"user_input","content":[{"type":"image","mime_type":"image/png"}]}]}"#,
            expect: "input[0].content[0].data"
        ),
        Case(
            path: interactions,
            headers: geminiKey,
            body: #"{"model":"gemini-2.5-flash","input":"x","generation_config":{"tool_choice":"sometimes"}}"#,
            expect: "tool_choice"
        ),
        Case(
            path: interactions,
            headers: geminiKey,
            body:
                #"{"model":"gemini-2.5-flash","input":"x","response_format":{"type":"text","mime_type":"application/yaml"}}"#,
            expect: "mime_type"
        ),
    ]

    @Test(arguments: cases)
    func shape(_ c: Case) async throws {
        try await withSim { _, port in
            let client = try TestHTTPClient(port: port)
            client.send(c.path, headers: c.headers, body: c.body)
            let response = client.response()
            if let fragment = c.expect {
                #expect(response.status == 400, "\(response.raw)")
                #expect(response.body.contains(fragment), "\(response.body)")
            } else {
                #expect(response.status == 200, "\(response.body)")
            }
        }
    }
}
