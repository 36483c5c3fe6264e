internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension AnthropicMessagesTranslator {
    /// Messages stream events → typed events.
    ///
    /// `content_block_start` of a `tool_use` block → the call's start (id and name, and its
    /// `input` when that is already non-empty: some servers send the whole input there and no
    /// deltas); `input_json_delta` → argument fragments of that block's call; `text_delta` → text;
    /// `thinking_delta` → reasoning (blocks separated by a blank line, as in the unary result). An
    /// empty text block produces nothing. `message_delta` gives the stop reason and usage (its
    /// non-null fields over `message_start`'s, as the adapter reads them); `message_stop` emits the
    /// finish. A second `message_start` changes nothing.
    struct Stream: TypedStreamTranslator {
        private var calls = ToolCallIndexer<Int64>()
        private var usage = JSONObject()
        private var sawStart = false
        private var native = ""
        /// Thinking blocks that have produced text.
        private var thinkingBlocks: Set<Int64> = []
        private var finished = false

        mutating func translate(_ event: NativeEvent) -> [StreamEvent] {
            guard !self.finished, let json = try? JSONParser.parse(event.data.readableBytesView),
                let object = json.object
            else { return [] }
            switch object["type"]?.string ?? event.event {
            case "message_start":
                guard !self.sawStart else { return [] }
                self.sawStart = true
                self.usage = object["message"]?["usage"]?.object ?? [:]
                return []
            case "content_block_start":
                guard let index = object["index"]?.int, let block = object["content_block"] else { return [] }
                switch block["type"]?.string {
                case "text":
                    guard let text = block["text"]?.string, !text.isEmpty else { return [] }
                    return [.text(text)]
                case "thinking":
                    return self.reasoning(block["thinking"]?.string ?? "", block: index)
                case "tool_use":
                    let input = block["input"]?.object ?? [:]
                    return self.calls.delta(
                        index,
                        id: block["id"]?.string ?? "",
                        name: block["name"]?.string ?? "",
                        arguments: input.isEmpty ? "" : JSONValue.object(input).jsonString
                    ).map { [$0] } ?? []
                default:
                    return []
                }
            case "content_block_delta":
                guard let index = object["index"]?.int, let delta = object["delta"] else { return [] }
                switch delta["type"]?.string {
                case "text_delta":
                    guard let text = delta["text"]?.string, !text.isEmpty else { return [] }
                    return [.text(text)]
                case "thinking_delta":
                    return self.reasoning(delta["thinking"]?.string ?? "", block: index)
                case "input_json_delta":
                    guard let fragment = delta["partial_json"]?.string, !fragment.isEmpty,
                        self.calls.index(of: index) != nil
                    else { return [] }
                    return self.calls.delta(index, arguments: fragment).map { [$0] } ?? []
                default:
                    return []
                }
            case "message_delta":
                if let reason = object["delta"]?["stop_reason"]?.string { self.native = reason }
                if let usage = object["usage"]?.object { self.usage.overlay(usage, skippingNulls: true) }
                return []
            case "message_stop":
                self.finished = true
                return [
                    .finish(
                        FinishDelta(
                            finishReason: AnthropicMessagesTranslator.finishReason(self.native),
                            nativeFinishReason: self.native,
                            usage: self.sawStart ? AnthropicMessagesAdapter.usage(self.usage) : nil
                        )
                    )
                ]
            default:
                return []
            }
        }

        /// Reasoning text; the first text of a thinking block after an earlier block's is preceded
        /// by a blank line.
        private mutating func reasoning(_ text: String, block: Int64) -> [StreamEvent] {
            guard !text.isEmpty else { return [] }
            let separated = !self.thinkingBlocks.isEmpty && !self.thinkingBlocks.contains(block) ? "\n\n" + text : text
            self.thinkingBlocks.insert(block)
            return [.reasoning(separated)]
        }
    }
}
