internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension OpenAIChatTranslator {
    /// `chat.completion.chunk`s → typed events.
    ///
    /// Per chunk, in the order the delta has them: `content` → text, `refusal` → text (a stream has
    /// no refusal event; the finish reason then says `refusal`), `tool_calls` → a start per call
    /// index (id and name) and argument fragments. Empty strings (the role chunk's `""`) produce
    /// nothing. `finish_reason` and the usage chunk are kept; `data: [DONE]` emits the finish.
    struct Stream: TypedStreamTranslator {
        private var calls = ToolCallIndexer<Int64>()
        private var native = ""
        private var refused = false
        private var usage: JSONValue?
        private var finished = false

        mutating func translate(_ event: NativeEvent) -> [StreamEvent] {
            guard !self.finished else { return [] }
            if event.data.readableBytesView.elementsEqual("[DONE]".utf8) {
                self.finished = true
                let reason = OpenAIChatTranslator.finishReason(self.native, refused: self.refused)
                return [
                    .finish(
                        FinishDelta(
                            finishReason: reason,
                            nativeFinishReason: self.native,
                            usage: self.usage.map { OpenAIChatAdapter.usage($0) }
                        )
                    )
                ]
            }
            guard let json = try? JSONParser.parse(event.data.readableBytesView), let chunk = json.object,
                chunk["error"] == nil
            else {
                return []
            }
            if let usage = chunk["usage"], !usage.isNull { self.usage = usage }
            var events: [StreamEvent] = []
            for choice in chunk["choices"]?.array ?? [] where (choice["index"]?.int ?? 0) == 0 {
                if let delta = choice["delta"]?.object {
                    if let text = delta["content"]?.string, !text.isEmpty { events.append(.text(text)) }
                    if let refusal = delta["refusal"]?.string, !refusal.isEmpty {
                        self.refused = true
                        events.append(.text(refusal))
                    }
                    for (position, call) in (delta["tool_calls"]?.array ?? []).enumerated() {
                        let function = call["function"]
                        if let delta = self.calls.delta(
                            call["index"]?.int ?? Int64(position),
                            id: call["id"]?.string ?? "",
                            name: function?["name"]?.string ?? "",
                            arguments: function?["arguments"]?.string ?? ""
                        ) {
                            events.append(delta)
                        }
                    }
                }
                if let reason = choice["finish_reason"]?.string { self.native = reason }
            }
            return events
        }
    }
}
