internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension OpenAIResponsesTranslator {
    /// Responses stream events → typed events.
    ///
    /// `response.output_text.delta` and `response.refusal.delta` → text; a function call's
    /// `response.output_item.added` → its start (call id and name), its
    /// `response.function_call_arguments.delta`s → fragments (or, from a server that streams no
    /// deltas, the whole arguments of its `*.done` event); `response.reasoning_summary_text.delta`
    /// → reasoning (parts separated by a blank line, as in the unary result);
    /// `response.completed`/`response.incomplete` → the finish, with the response's usage.
    /// Lifecycle events and other `*.done` events repeat what the deltas said and produce nothing.
    struct Stream: TypedStreamTranslator {
        private var calls = ToolCallIndexer<Int64>()
        /// `output_index` of each function call item by its item id (argument deltas carry both).
        private var callOutputIndex: [String: Int64] = [:]
        /// Calls whose arguments were sent (in their start or as deltas).
        private var argumentsSent: Set<Int64> = []
        private var refused = false
        private var lastSummary: String?
        private var finished = false

        mutating func translate(_ event: NativeEvent) -> [StreamEvent] {
            guard !self.finished, let json = try? JSONParser.parse(event.data.readableBytesView),
                let object = json.object
            else { return [] }
            switch object["type"]?.string ?? event.event {
            case "response.output_text.delta":
                return Self.text(object["delta"])
            case "response.refusal.delta":
                let events = Self.text(object["delta"])
                if !events.isEmpty { self.refused = true }
                return events
            case "response.output_item.added":
                guard let item = object["item"], item["type"]?.string == "function_call" else { return [] }
                let key = object["output_index"]?.int ?? Int64(self.calls.count)
                if let id = item["id"]?.string { self.callOutputIndex[id] = key }
                let arguments = item["arguments"]?.string ?? ""
                if !arguments.isEmpty { self.argumentsSent.insert(key) }
                return self.calls.delta(
                    key,
                    id: item["call_id"]?.string ?? "",
                    name: item["name"]?.string ?? "",
                    arguments: arguments
                ).map { [$0] } ?? []
            case "response.function_call_arguments.delta":
                guard let fragment = object["delta"]?.string, !fragment.isEmpty, let key = self.callKey(object) else {
                    return []
                }
                self.argumentsSent.insert(key)
                return self.calls.delta(key, arguments: fragment).map { [$0] } ?? []
            case "response.function_call_arguments.done", "response.output_item.done":
                // A server that sends the arguments only whole, at the end: send them then.
                let arguments = object["arguments"]?.string ?? object["item"]?["arguments"]?.string ?? ""
                guard !arguments.isEmpty, let key = self.callKey(object), self.argumentsSent.insert(key).inserted else {
                    return []
                }
                return self.calls.delta(key, arguments: arguments).map { [$0] } ?? []
            case "response.reasoning_summary_text.delta":
                guard let text = object["delta"]?.string, !text.isEmpty else { return [] }
                let part = "\(object["item_id"]?.string ?? "")#\(object["summary_index"]?.int ?? 0)"
                defer { self.lastSummary = part }
                if let last = self.lastSummary, last != part { return [.reasoning("\n\n" + text)] }
                return [.reasoning(text)]
            case "response.completed", "response.incomplete":
                self.finished = true
                let response = object["response"]
                let status =
                    response?["status"]?.string
                    ?? (object["type"]?.string == "response.completed" ? "completed" : "incomplete")
                let reason = response?["incomplete_details"]?["reason"]?.string ?? ""
                let usage = response?["usage"].flatMap { $0.isNull ? nil : OpenAIResponsesAdapter.usage($0) }
                return [
                    .finish(
                        FinishDelta(
                            finishReason: OpenAIResponsesTranslator.finishReason(
                                status: status,
                                incompleteReason: reason,
                                calledTools: self.calls.count > 0,
                                refused: self.refused
                            ),
                            nativeFinishReason: status == "incomplete" && !reason.isEmpty ? reason : status,
                            usage: usage
                        )
                    )
                ]
            default:
                return []
            }
        }

        /// The started call an argument event belongs to (by `output_index`, else `item_id`).
        private func callKey(_ object: JSONObject) -> Int64? {
            let key =
                object["output_index"]?.int
                ?? (object["item_id"] ?? object["item"]?["id"])?.string.flatMap { self.callOutputIndex[$0] }
            guard let key, self.calls.index(of: key) != nil else { return nil }
            return key
        }

        private static func text(_ delta: JSONValue?) -> [StreamEvent] {
            guard let text = delta?.string, !text.isEmpty else { return [] }
            return [.text(text)]
        }
    }
}
