internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension OpenAIResponsesAdapter {
    /// Reads one Responses stream (rules in ``OpenAIResponsesAdapter``) and keeps what the
    /// non-streamed answer needs: the terminal event's `response` object, and, in case that object
    /// is missing or has no `output`, the output items.
    struct Reader: StreamReader {
        let flex: Bool
        private var started = false
        /// `completed` or `incomplete`, once the terminal event was seen.
        private var terminalStatus: String?
        /// The terminal event's `response`.
        private var final: JSONObject?
        /// The response object of the last lifecycle event (`created`, `in_progress`, `queued`).
        private var latest: JSONObject?
        /// `response.failed`'s `response` (it may carry usage for what was produced).
        private var failed: JSONObject?
        /// Output items by `output_index`: as added, and as done. Only needed when the terminal
        /// event lacks its output; dropped once a complete one arrives.
        private var addedItems: [Int: JSONValue] = [:]
        private var doneItems: [Int: JSONValue] = [:]
        private(set) var outputEvents = 0
        /// Committed to a streaming caller (``relayOnly()``): output items are no longer kept, and
        /// a delta's text is probed, not built.
        private var relaying = false

        /// The members of an event this reader reads (an error event's are top-level or under
        /// `error`); the others (`sequence_number`, `logprobs`, `obfuscation`, …) are checked but not
        /// built.
        private static let keys = [
            "type", "response", "error", "code", "message", "output_index", "item_id", "delta", "item",
        ]

        /// A relayed event's: what the terminal and error events carry, and whether a delta has text.
        private static let relayKeys = ["type", "response", "error", "code", "message"]
        private static let relayProbes = [JSONProbe(.member("delta"), matching: .nonEmptyString)]
        /// The types of the events a stream is mostly made of: kept without building a `String`.
        private static let relayTypes = [
            "response.output_text.delta", "response.function_call_arguments.delta",
            "response.reasoning_summary_text.delta", "response.refusal.delta",
        ]

        init(flex: Bool) {
            self.flex = flex
        }

        mutating func relayOnly() {
            self.relaying = true
            self.latest = nil
            self.addedItems = [:]
            self.doneItems = [:]
        }

        mutating func consume(_ event: NativeEvent) -> EventDisposition {
            let data = event.data.readableBytesView
            if data.elementsEqual("[DONE]".utf8) { return .internalOnly }
            let parsed: (object: JSONObject, deltaHasText: Bool)?
            if self.relaying {
                parsed = NativeBody.relayed(
                    event,
                    keeping: Self.relayKeys,
                    probing: Self.relayProbes,
                    reusing: Self.relayTypes
                )
                .map { ($0.members, $0.probes[0]) }
            } else {
                parsed = (try? JSONParser.parseObject(data, keeping: Self.keys))
                    .map { ($0, $0["delta"]?.string?.isEmpty == false) }
            }
            guard let (object, deltaHasText) = parsed else {
                return .error(.retryable(NativeBody.malformedEvent(.openAI, event), beforeAnyByte: false))
            }
            let type = object["type"]?.string ?? event.event
            switch type {
            case "response.created", "response.in_progress", "response.queued":
                if !self.relaying, let response = object["response"]?.object { self.latest = response }
                return self.started ? .content : .preamble
            case "response.completed", "response.incomplete":
                self.terminalStatus = type == "response.completed" ? "completed" : "incomplete"
                self.final = object["response"]?.object
                if self.final?["output"]?.array != nil {
                    self.addedItems = [:]
                    self.doneItems = [:]
                }
                return .terminal
            case "response.failed":
                let response = object["response"]?.object
                self.failed = response
                let error = response?["error"]
                return .error(
                    self.classify(
                        type: error?["type"]?.string ?? "",
                        code: error?["code"]?.string ?? "",
                        message: error?["message"]?.string ?? "the response failed"
                    )
                )
            case "error":
                // Documented: top-level code/message/param. Seen live: nested under "error".
                let error = object["error"]?.object ?? object
                return .error(
                    self.classify(
                        type: error["type"]?.string ?? "",
                        code: error["code"]?.string ?? "",
                        message: error["message"]?.string ?? ""
                    )
                )
            default:
                let output = object["output_index"] != nil || object["item_id"] != nil || type.hasSuffix(".delta")
                if deltaHasText, type.hasSuffix(".delta") { self.outputEvents += 1 }
                if type == "response.output_item.added" || type == "response.output_item.done",
                    let index = object["output_index"]?.int, index >= 0, index < Int64(Int32.max),
                    let item = object["item"], item.object != nil
                {
                    if type == "response.output_item.added" {
                        self.addedItems[Int(index)] = item
                    } else {
                        self.doneItems[Int(index)] = item
                    }
                }
                if !self.started && output {
                    self.started = true
                    return .started
                }
                return self.started ? .content : .preamble
            }
        }

        /// After the terminal event: the terminal response's usage and tier. After
        /// `response.failed` with usage: that usage (what the provider billed for the failed
        /// attempt). Otherwise unknown.
        var result: UpstreamResult? {
            if self.terminalStatus != nil {
                return OpenAIResponsesAdapter.result(of: self.final.map { .object($0) })
            }
            if let failed = self.failed, let usage = failed["usage"], !usage.isNull {
                return OpenAIResponsesAdapter.result(of: .object(failed))
            }
            return nil
        }

        /// The terminal event's `response`, as sent (field order kept). If it is missing or has no
        /// `output` array, it is rebuilt: the terminal's object (or else the last lifecycle event's,
        /// with the terminal status) with `output` made of the `response.output_item.done` items
        /// (an item that was added but never done is taken as added). A rebuilt object has the
        /// usage the provider sent, if any; without the terminal's object it has none.
        func assembleResponse() throws(RouterError) -> ByteBuffer {
            guard let status = self.terminalStatus else {
                throw RouterError(
                    .upstreamStreamTruncated,
                    "the provider's answer ended before its final event; the output is incomplete"
                )
            }
            if let final = self.final, final["output"]?.array != nil {
                return NativeBody.encode(final)
            }
            var response: JSONObject
            if let final = self.final {
                response = final
            } else {
                response =
                    self.latest ?? [
                        "id": "", "object": "response", "created_at": 0, "status": "", "model": "", "output": [],
                        "usage": .null,
                    ]
                response["status"] = .string(status)
            }
            let indices = Set(self.addedItems.keys).union(self.doneItems.keys).sorted()
            response["output"] = .array(indices.compactMap { self.doneItems[$0] ?? self.addedItems[$0] })
            return NativeBody.encode(response)
        }

        private func classify(type: String, code: String, message: String) -> RaceStateMachine.AttemptFailure {
            UpstreamFailure.classifyStreamError(
                provider: .openAI,
                type: type,
                code: code,
                message: message,
                impliedStatus: UpstreamFailure.openAIImpliedStatus(type: type, code: code),
                flex: self.flex
            )
        }
    }
}
