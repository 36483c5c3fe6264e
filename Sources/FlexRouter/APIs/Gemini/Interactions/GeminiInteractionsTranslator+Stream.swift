internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension GeminiInteractionsTranslator {
    /// Interactions stream events (`step.start`/`step.delta`/`step.stop`) → typed events.
    ///
    /// A `function_call` step's start → the call's start (id and name, and its arguments when the
    /// start already holds them), its `arguments_delta`s → fragments; `text` deltas (and text in a
    /// `model_output` start) → text; `thought_summary` deltas → reasoning (thought steps separated
    /// by a blank line, as in the unary result). `interaction.completed` emits the finish with the
    /// interaction's usage (or the last `interaction.status_update`'s).
    struct Stream: TypedStreamTranslator {
        private var calls = ToolCallIndexer<Int64>()
        private var stepTypes: [Int64: String] = [:]
        /// Thought steps that have produced text.
        private var thoughtSteps: Set<Int64> = []
        private var usage: JSONObject?
        private var finished = false

        mutating func translate(_ event: NativeEvent) -> [StreamEvent] {
            guard !self.finished, let json = try? JSONParser.parse(event.data.readableBytesView),
                let object = json.object
            else { return [] }
            if let usage = object["usage"]?.object { self.usage = usage }
            switch object["event_type"]?.string ?? event.event {
            case "step.start":
                guard let index = object["index"]?.int, let step = object["step"], self.stepTypes[index] == nil else {
                    return []
                }
                let type = step["type"]?.string ?? ""
                self.stepTypes[index] = type
                switch type {
                case "model_output":
                    return (step["content"]?.array ?? []).compactMap { item in
                        guard item["type"]?.string == "text", let text = item["text"]?.string, !text.isEmpty else {
                            return nil
                        }
                        return .text(text)
                    }
                case "thought":
                    return (step["summary"]?.array ?? []).flatMap {
                        self.reasoning($0["text"]?.string ?? "", step: index)
                    }
                case "function_call":
                    let arguments = step["arguments"]?.object ?? [:]
                    return self.calls.delta(
                        index,
                        id: step["id"]?.string ?? "",
                        name: step["name"]?.string ?? "",
                        arguments: arguments.isEmpty ? "" : JSONValue.object(arguments).jsonString
                    ).map { [$0] } ?? []
                default:
                    return []
                }
            case "step.delta":
                guard let index = object["index"]?.int, let delta = object["delta"], let type = self.stepTypes[index]
                else { return [] }
                switch delta["type"]?.string {
                case "text" where type == "model_output":
                    guard let text = delta["text"]?.string, !text.isEmpty else { return [] }
                    return [.text(text)]
                case "thought_summary":
                    return self.reasoning(delta["content"]?["text"]?.string ?? "", step: index)
                case "arguments_delta":
                    guard let fragment = delta["arguments"]?.string, !fragment.isEmpty,
                        self.calls.index(of: index) != nil
                    else { return [] }
                    return self.calls.delta(index, arguments: fragment).map { [$0] } ?? []
                default:
                    return []
                }
            case "interaction.completed":
                self.finished = true
                let interaction = object["interaction"]
                if let usage = interaction?["usage"]?.object { self.usage = usage }
                let status = interaction?["status"]?.string ?? ""
                return [
                    .finish(
                        FinishDelta(
                            finishReason: GeminiInteractionsTranslator.finishReason(
                                status,
                                calledTools: self.calls.count > 0
                            ),
                            nativeFinishReason: status,
                            usage: self.usage.map { GeminiInteractionsAdapter.usage($0) }
                        )
                    )
                ]
            default:
                return []
            }
        }

        private mutating func reasoning(_ text: String, step: Int64) -> [StreamEvent] {
            guard !text.isEmpty else { return [] }
            let separated = !self.thoughtSteps.isEmpty && !self.thoughtSteps.contains(step) ? "\n\n" + text : text
            self.thoughtSteps.insert(step)
            return [.reasoning(separated)]
        }
    }
}
