internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension GeminiInteractionsAdapter {
    /// Reads Interactions stream events and rebuilds the interaction they add up to.
    struct Reader: StreamReader {
        let flex: Bool
        private(set) var outputEvents = 0
        /// The `x-gemini-service-tier` response header ("" when absent).
        let headerTier: String
        private var started = false
        private var done = false
        /// The interaction of `interaction.created`, then of `interaction.completed`.
        private var interaction: JSONObject?
        private var usage: JSONObject?
        private var steps: [Int64: Step] = [:]
        /// Committed to a streaming caller (``relayOnly()``): steps are no longer built, and a
        /// `step.delta` is probed, not parsed in full.
        private var relaying = false

        /// What a relayed event is read for first: its type, step and usage, and what its delta
        /// carries.
        private static let relayKeys = ["event_type", "index", "usage"]
        private static let relayProbes = [
            JSONProbe(.member("delta"), .member("text"), matching: .nonEmptyString),
            JSONProbe(.member("delta"), .member("arguments"), matching: .nonEmptyString),
            JSONProbe(.member("delta"), matching: .nonEmptyObject),
        ]

        /// One step: its `step.start` shape plus what the deltas added.
        struct Step {
            var shell: JSONObject
            var content = Items()
            var summary = Items()
            var signature: JSONValue?
            var arguments = ""
            var extra = JSONObject()
        }

        /// A step's `content` or `summary` list: consecutive text deltas merged into one item.
        struct Items {
            struct Item {
                /// The item as it came (a text item's first delta).
                var object: JSONObject
                /// A text item's text so far; nil for other items.
                var text: String?
                var annotations: [JSONValue] = []
            }

            var items: [Item] = []

            mutating func append(_ item: JSONObject) {
                guard item["type"]?.string == "text", let text = item["text"]?.string else {
                    self.items.append(Item(object: item))
                    return
                }
                if let last = self.items.indices.last, self.items[last].text != nil {
                    self.items[last].text?.append(text)
                } else {
                    self.items.append(Item(object: item, text: text))
                }
            }

            mutating func annotate(_ more: [JSONValue]) {
                guard let last = self.items.indices.last, self.items[last].text != nil else { return }
                self.items[last].annotations += more
            }

            var built: [JSONValue] {
                self.items.map { item in
                    guard let text = item.text else { return .object(item.object) }
                    var object = item.object
                    object["text"] = .string(text)
                    if !item.annotations.isEmpty {
                        object["annotations"] = .array((object["annotations"]?.array ?? []) + item.annotations)
                    }
                    return .object(object)
                }
            }

            var text: String {
                self.items.reduce(into: "") { result, item in result += item.text ?? "" }
            }
        }

        init(flex: Bool, headerTier: String) {
            self.flex = flex
            self.headerTier = headerTier
        }

        /// A `step.delta` after the commit to a streaming caller, for a step that exists: counted,
        /// not applied. Nil for anything else, which ``consume(_:)`` reads in full.
        private mutating func relayedDelta(_ event: NativeEvent) -> EventDisposition? {
            guard let (object, found) = NativeBody.relayed(event, keeping: Self.relayKeys, probing: Self.relayProbes)
            else { return self.malformed(event) }
            guard (object["event_type"]?.string ?? event.event) == "step.delta", found[2],
                let index = object["index"]?.int, self.steps[index] != nil
            else { return nil }
            if let usage = object["usage"]?.object { self.usage = usage }
            if found[0] || found[1] { self.outputEvents += 1 }
            return .content
        }

        mutating func relayOnly() {
            self.relaying = true
            self.steps = self.steps.mapValues { _ in Step(shell: [:]) }
        }

        mutating func consume(_ event: NativeEvent) -> EventDisposition {
            if self.relaying, let disposition = self.relayedDelta(event) { return disposition }
            guard let json = try? JSONParser.parse(event.data.readableBytesView), let object = json.object else {
                return self.malformed(event)
            }
            if let usage = object["usage"]?.object { self.usage = usage }
            switch object["event_type"]?.string ?? event.event {
            case "interaction.created":
                guard let interaction = object["interaction"]?.object else { return self.malformed(event) }
                self.interaction = interaction
                return self.beforeOrAfterStart
            case "interaction.status_update":
                return self.beforeOrAfterStart
            case "step.start":
                guard let index = object["index"]?.int, let step = object["step"]?.object, self.steps[index] == nil
                else {
                    return self.malformed(event)
                }
                self.steps[index] = Step(shell: step)
                if !self.started {
                    self.started = true
                    return .started
                }
                return .content
            case "step.delta":
                // Taken out of the dictionary while it grows, so its strings are appended in place.
                guard let index = object["index"]?.int, let delta = object["delta"]?.object,
                    var step = self.steps.removeValue(forKey: index)
                else {
                    return self.malformed(event)
                }
                Self.apply(delta, to: &step)
                self.steps[index] = step
                if ["text", "arguments"].contains(where: { delta[$0]?.string?.isEmpty == false }) {
                    self.outputEvents += 1
                }
                return .content
            case "step.stop":
                guard let index = object["index"]?.int, self.steps[index] != nil else { return self.malformed(event) }
                return .content
            case "interaction.completed":
                guard let interaction = object["interaction"]?.object else { return self.malformed(event) }
                self.interaction = interaction
                if let usage = interaction["usage"]?.object { self.usage = usage }
                self.done = true
                if !self.started, let status = interaction["status"]?.string,
                    status == "failed" || status == "cancelled"
                {
                    // Nothing was produced: an error to retry elsewhere (flex falls back), not an answer.
                    return .error(
                        .retryable(
                            RouterError(
                                .upstreamFailed,
                                "Gemini reported the interaction \(status) before it produced any output",
                                details: ["provider": "gemini"]
                            ),
                            beforeAnyByte: false
                        )
                    )
                }
                return .terminal
            case "error":
                // After the start an overload is no refusal any more: it fails the committed call.
                return .error(GeminiStreamError.classify(object["error"] ?? .null, flex: self.flex && !self.started))
            default:
                // New event types: pass them along.
                return self.beforeOrAfterStart
            }
        }

        var result: UpstreamResult? {
            guard self.interaction != nil || self.usage != nil else { return nil }
            return GeminiTier.result(
                usage: GeminiInteractionsAdapter.usage(self.usage ?? [:]),
                bodyWord: self.interaction?["service_tier"]?.string ?? "",
                headerWord: self.headerTier
            )
        }

        func assembleResponse() throws(RouterError) -> ByteBuffer {
            guard var interaction = self.interaction else {
                throw RouterError(
                    .upstreamStreamTruncated,
                    "the Interactions stream ended before its interaction.created event"
                )
            }
            var steps: [JSONValue] = []
            var outputText = ""
            for index in self.steps.keys.sorted() {
                guard let step = self.steps[index] else { continue }
                steps.append(.object(try Self.build(step)))
                if step.shell["type"]?.string == "model_output" { outputText += step.content.text }
            }
            interaction.set("steps", .array(steps), before: ["output_text", "updated", "usage", "role"])
            if !outputText.isEmpty { interaction.set("output_text", .string(outputText), after: "steps") }
            if let usage = self.usage, interaction["usage"] == nil {
                interaction.set("usage", .object(usage), before: ["role"])
            }
            if interaction["role"] == nil { interaction["role"] = "model" }
            return NativeBody.encode(interaction)
        }

        // MARK: Helpers

        private var beforeOrAfterStart: EventDisposition { self.started ? .content : .preamble }

        private func malformed(_ event: NativeEvent) -> EventDisposition {
            .error(.retryable(NativeBody.malformedEvent(.gemini, event), beforeAnyByte: false))
        }

        /// Applies one `step.delta`.
        static func apply(_ delta: JSONObject, to step: inout Step) {
            switch delta["type"]?.string ?? "" {
            case "text", "image", "audio", "document", "video":
                step.content.append(delta)
            case "text_annotation":
                step.content.annotate(delta["annotations"]?.array ?? [])
            case "thought_summary":
                if let content = delta["content"]?.object { step.summary.append(content) }
            case "thought_signature":
                if let signature = delta["signature"] { step.signature = signature }
            case "arguments_delta":
                if let piece = delta["arguments"]?.string { step.arguments += piece }
            default:
                // Tool calls and results stream as whole objects: their fields are the step's.
                for field in delta.fields where field.key != "type" { step.extra[field.key] = field.value }
            }
        }

        /// The step as the unstreamed interaction has it.
        static func build(_ step: Step) throws(RouterError) -> JSONObject {
            var object = step.shell
            if let signature = step.signature { object.set("signature", signature, after: "type") }
            if !step.summary.items.isEmpty {
                object["summary"] = .array((object["summary"]?.array ?? []) + step.summary.built)
            }
            if !step.content.items.isEmpty {
                object["content"] = .array((object["content"]?.array ?? []) + step.content.built)
            }
            if !step.arguments.isEmpty {
                guard let arguments = try? JSONParser.parse(step.arguments) else {
                    throw RouterError(
                        .upstreamMalformedEvent,
                        "Gemini streamed function call arguments that are not valid JSON"
                    )
                }
                object["arguments"] = arguments
            }
            object.overlay(step.extra, skippingNulls: false)
            return object
        }
    }
}
