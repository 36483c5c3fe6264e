internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension GeminiGenerateContentAdapter {
    /// Reads `streamGenerateContent` chunks (each a `GenerateContentResponse`) and rebuilds the
    /// unstreamed response they add up to.
    struct Reader: StreamReader {
        let flex: Bool
        /// The `x-gemini-service-tier` response header ("" when absent).
        let headerTier: String
        private var started = false
        private var done = false
        private var sawChunk = false
        /// Top-level fields other than `candidates`, latest value, in first-seen order.
        private var top = JSONObject()
        private var candidates: [Int64: Candidate] = [:]
        private(set) var outputEvents = 0

        /// Gemini's field order for a response and a candidate (proto field-number order).
        static let topOrder = [
            "candidates", "promptFeedback", "usageMetadata", "modelVersion", "createTime", "responseId", "modelStatus",
        ]
        static let candidateOrder = [
            "content", "finishReason", "index", "finishMessage", "safetyRatings", "citationMetadata", "tokenCount",
            "groundingAttributions", "groundingMetadata", "avgLogprobs", "logprobsResult", "urlContextMetadata",
        ]

        struct Candidate {
            /// Fields other than `content`, latest value.
            var fields = JSONObject()
            /// `content` fields other than `parts` (`role`), latest value.
            var content = JSONObject()
            var sawContent = false
            var parts: [Part] = []
            var droppedEmptyText = false

            var finished: Bool {
                guard let reason = self.fields["finishReason"]?.string else { return false }
                return !reason.isEmpty && reason != "FINISH_REASON_UNSPECIFIED"
            }
        }

        /// A part of the answer: a text run (consecutive text parts of one kind, merged) or any
        /// other part as it came.
        struct Part {
            /// The part as it came (a text run's first part).
            var object: JSONObject
            /// A text run's text so far; nil for other parts.
            var text: String?
            var thought = false
            var signature: JSONValue?
        }

        init(flex: Bool, headerTier: String) {
            self.flex = flex
            self.headerTier = headerTier
        }

        mutating func consume(_ event: NativeEvent) -> EventDisposition {
            guard let json = try? JSONParser.parse(event.data.readableBytesView), let chunk = json.object else {
                return .error(.retryable(NativeBody.malformedEvent(.gemini, event), beforeAnyByte: false))
            }
            if let error = chunk["error"], !error.isNull {
                // After the start a 503 is no refusal any more: it fails the committed call.
                return .error(GeminiStreamError.classify(error, flex: self.flex && !self.started))
            }
            self.sawChunk = true
            var output = false
            for field in chunk.fields {
                if field.key == "candidates" {
                    for candidate in field.value.array ?? [] {
                        if let object = candidate.object, self.add(object) { output = true }
                    }
                } else {
                    self.top[field.key] = field.value
                }
            }
            if self.done { return .content }
            if self.isComplete {
                self.done = true
                return .terminal
            }
            if !self.started {
                guard output else { return .preamble }
                self.started = true
                return .started
            }
            return .content
        }

        var result: UpstreamResult? {
            guard self.sawChunk else { return nil }
            return GeminiGenerateContentAdapter.result(
                usageMetadata: self.top["usageMetadata"]?.object ?? [:],
                headerTier: self.headerTier
            )
        }

        func assembleResponse() throws(RouterError) -> ByteBuffer {
            var response = self.top
            if !self.candidates.isEmpty {
                var list: [JSONValue] = []
                list.reserveCapacity(self.candidates.count)
                for index in self.candidates.keys.sorted() {
                    guard let candidate = self.candidates[index] else { continue }
                    list.append(.object(Self.build(candidate)))
                }
                response["candidates"] = .array(list)
            }
            return NativeBody.encode(response.ordered(Self.topOrder))
        }

        // MARK: Helpers

        /// Whether the answer is complete: the prompt was blocked, or every candidate finished.
        private var isComplete: Bool {
            if let reason = self.top["promptFeedback"]?["blockReason"]?.string, !reason.isEmpty,
                reason != "BLOCK_REASON_UNSPECIFIED"
            {
                return true
            }
            return !self.candidates.isEmpty && self.candidates.values.allSatisfy(\.finished)
        }

        /// Merges one chunk's candidate; true when it carried output.
        private mutating func add(_ object: JSONObject) -> Bool {
            let index = object["index"]?.int ?? 0
            // Taken out of the dictionary while it grows, so its text runs are appended in place.
            var candidate = self.candidates.removeValue(forKey: index) ?? Candidate()
            var output = false
            for field in object.fields {
                guard field.key == "content" else {
                    candidate.fields[field.key] = field.value
                    continue
                }
                guard let content = field.value.object else { continue }
                candidate.sawContent = true
                for contentField in content.fields where contentField.key != "parts" {
                    candidate.content[contentField.key] = contentField.value
                }
                for part in content["parts"]?.array ?? [] {
                    guard let part = part.object else { continue }
                    if Self.append(part, to: &candidate) { output = true }
                }
            }
            self.candidates[index] = candidate
            if output { self.outputEvents += 1 }
            return output
        }

        /// Appends a part, merging text into the previous text run of the same kind. True when the
        /// part is output.
        private static func append(_ part: JSONObject, to candidate: inout Candidate) -> Bool {
            let isPlainText =
                part["text"]?.string != nil
                && part.keys.allSatisfy { ["text", "thought", "thoughtSignature"].contains($0) }
            guard isPlainText, let text = part["text"]?.string else {
                candidate.parts.append(Part(object: part))
                return part.keys.contains { !["text", "thought", "thoughtSignature"].contains($0) }
            }
            let thought = part["thought"]?.bool ?? false
            let signature = part["thoughtSignature"]
            if let last = candidate.parts.indices.last, candidate.parts[last].text != nil,
                candidate.parts[last].thought == thought
            {
                candidate.parts[last].text?.append(text)
                if candidate.parts[last].signature == nil { candidate.parts[last].signature = signature }
            } else if text.isEmpty && signature == nil {
                // The final chunk's `{"text": ""}`: nothing to add.
                candidate.droppedEmptyText = true
            } else {
                candidate.parts.append(Part(object: part, text: text, thought: thought, signature: signature))
            }
            return !text.isEmpty
        }

        /// The candidate as the unstreamed response has it.
        static func build(_ candidate: Candidate) -> JSONObject {
            var object = candidate.fields
            if candidate.sawContent {
                var parts: [JSONValue] = candidate.parts.map { part in
                    guard let text = part.text else { return .object(part.object) }
                    var object = part.object
                    object["text"] = .string(text)
                    if let signature = part.signature, object["thoughtSignature"] == nil {
                        object["thoughtSignature"] = signature
                    }
                    return .object(object)
                }
                if parts.isEmpty && candidate.droppedEmptyText { parts = [["text": ""]] }
                var content: JSONObject = ["parts": .array(parts)]
                content.overlay(candidate.content, skippingNulls: false)
                object["content"] = .object(content)
            }
            return object.ordered(Self.candidateOrder)
        }
    }
}
