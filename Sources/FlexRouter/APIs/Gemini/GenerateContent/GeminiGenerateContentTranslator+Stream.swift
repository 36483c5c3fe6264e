internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension GeminiGenerateContentTranslator {
    /// `streamGenerateContent` chunks → typed events.
    ///
    /// Each chunk's parts in order (candidate 0): text → text, thought text → reasoning, a
    /// `functionCall` → one start carrying the whole call (Gemini streams calls whole: id, name and
    /// the arguments as one fragment). Empty texts produce nothing. The chunk that finishes the
    /// candidate (or blocks the prompt) emits the finish, with that chunk's `usageMetadata`.
    struct Stream: TypedStreamTranslator {
        private var calls = ToolCallIndexer<Int>()
        private var responseID = ""
        private var usage: JSONObject?
        private var finished = false

        mutating func translate(_ event: NativeEvent) -> [StreamEvent] {
            guard !self.finished, let json = try? JSONParser.parse(event.data.readableBytesView),
                let chunk = json.object,
                chunk["error"] == nil
            else { return [] }
            if self.responseID.isEmpty, let id = chunk["responseId"]?.string { self.responseID = id }
            if let usage = chunk["usageMetadata"]?.object { self.usage = usage }
            var events: [StreamEvent] = []
            var native = ""
            let candidates = chunk["candidates"]?.array ?? []
            for candidate in candidates where (candidate["index"]?.int ?? 0) == 0 {
                for part in candidate["content"]?["parts"]?.array ?? [] {
                    if let call = part["functionCall"] {
                        let position = self.calls.count
                        if let delta = self.calls.delta(
                            position,
                            id: GeminiTyped.callID(call["id"]?.string, responseID: self.responseID, position: position),
                            name: call["name"]?.string ?? "",
                            arguments: (call["args"] ?? [:]).jsonString
                        ) {
                            events.append(delta)
                        }
                    } else if let text = part["text"]?.string, !text.isEmpty {
                        events.append(part["thought"]?.bool == true ? .reasoning(text) : .text(text))
                    }
                }
                if let reason = candidate["finishReason"]?.string, !reason.isEmpty,
                    reason != "FINISH_REASON_UNSPECIFIED"
                {
                    native = reason
                }
            }
            let blocked = candidates.isEmpty ? chunk["promptFeedback"]?["blockReason"]?.string : nil
            if let blocked {
                self.finished = true
                events.append(
                    .finish(
                        FinishDelta(
                            finishReason: .contentFilter,
                            nativeFinishReason: blocked,
                            usage: self.usage.map { GeminiGenerateContentAdapter.usage($0) }
                        )
                    )
                )
            } else if !native.isEmpty {
                self.finished = true
                events.append(
                    .finish(
                        FinishDelta(
                            finishReason: GeminiGenerateContentTranslator.finishReason(
                                native,
                                calledTools: self.calls.count > 0
                            ),
                            nativeFinishReason: native,
                            usage: self.usage.map { GeminiGenerateContentAdapter.usage($0) }
                        )
                    )
                )
            }
            return events
        }
    }
}
