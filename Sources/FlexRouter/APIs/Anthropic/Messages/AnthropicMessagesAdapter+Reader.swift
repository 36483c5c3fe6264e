internal import FlexCore
internal import FlexJSON
internal import NIOCore

extension AnthropicMessagesAdapter {
    /// Reads Messages stream events and rebuilds the `message` they add up to.
    struct Reader: StreamReader {
        let flex: Bool
        private var started = false
        private var done = false
        /// The `message_start` message (empty content, initial usage).
        private var message: JSONObject?
        /// `message_delta.delta` fields (stop reason, stop sequence, ...), latest last.
        private var delta = JSONObject()
        /// `message_start` usage with each `message_delta` usage's non-null fields over it.
        private var usage = JSONObject()
        /// Content blocks by their `index`.
        private var blocks: [Int64: Block] = [:]
        private(set) var outputEvents = 0
        /// Committed to a streaming caller (``relayOnly()``): blocks are no longer built, and a
        /// `content_block_delta` is probed, not parsed in full.
        private var relaying = false

        /// One content block: its `content_block_start` shape plus what the deltas added.
        struct Block {
            var start: JSONObject
            var text = ""
            var thinking = ""
            var signature: String?
            var partialJSON = ""
            var citations: [JSONValue] = []

            var type: String { self.start["type"]?.string ?? "" }
        }

        /// What a relayed event is read for first: its type and block, and what its delta carries.
        private static let relayKeys = ["type", "index"]
        /// The relayed event types longer than a small string: kept without building a `String`.
        private static let relayTypes = ["content_block_delta", "content_block_start", "content_block_stop"]
        private static let relayProbes = [
            JSONProbe(.member("delta"), .member("text"), matching: .nonEmptyString),
            JSONProbe(.member("delta"), .member("thinking"), matching: .nonEmptyString),
            JSONProbe(.member("delta"), .member("partial_json"), matching: .nonEmptyString),
            JSONProbe(.member("delta"), matching: .nonEmptyObject),
        ]

        init(flex: Bool) {
            self.flex = flex
        }

        mutating func relayOnly() {
            self.relaying = true
            self.blocks = self.blocks.mapValues { _ in Block(start: [:]) }
        }

        mutating func consume(_ event: NativeEvent) -> EventDisposition {
            if self.relaying, let disposition = self.relayedDelta(event) { return disposition }
            guard let json = try? JSONParser.parse(event.data.readableBytesView), let object = json.object else {
                return self.malformed(event)
            }
            // The data's `type` is authoritative; the SSE event name repeats it.
            let type = object["type"]?.string ?? event.event
            switch type {
            case "message_start":
                guard self.message == nil, let message = object["message"]?.object else { return self.malformed(event) }
                self.message = message
                self.usage = message["usage"]?.object ?? [:]
                return self.beforeOrAfterStart
            case "ping":
                return self.beforeOrAfterStart
            case "content_block_start":
                guard self.message != nil, let index = object["index"]?.int,
                    let block = object["content_block"]?.object,
                    self.blocks[index] == nil
                else { return self.malformed(event) }
                self.blocks[index] = Block(start: block)
                if !self.started {
                    self.started = true
                    return .started
                }
                return .content
            case "content_block_delta":
                // Taken out of the dictionary while it grows, so its strings are appended in place.
                guard let index = object["index"]?.int, let delta = object["delta"]?.object,
                    var block = self.blocks.removeValue(forKey: index)
                else {
                    return self.malformed(event)
                }
                Self.apply(delta, to: &block)
                self.blocks[index] = block
                if ["text", "thinking", "partial_json"].contains(where: { delta[$0]?.string?.isEmpty == false }) {
                    self.outputEvents += 1
                }
                return .content
            case "content_block_stop":
                guard let index = object["index"]?.int, self.blocks[index] != nil else { return self.malformed(event) }
                return .content
            case "message_delta":
                guard self.message != nil else { return self.malformed(event) }
                if let delta = object["delta"]?.object { self.delta.overlay(delta, skippingNulls: false) }
                if let usage = object["usage"]?.object { self.usage.overlay(usage, skippingNulls: true) }
                return self.beforeOrAfterStart
            case "message_stop":
                guard self.message != nil else { return self.malformed(event) }
                self.done = true
                return .terminal
            case "error":
                let error = object["error"]
                let errorType = error?["type"]?.string ?? ""
                return .error(
                    UpstreamFailure.classifyStreamError(
                        provider: .anthropic,
                        type: errorType,
                        message: error?["message"]?.string ?? "",
                        impliedStatus: AnthropicMessagesAdapter.impliedStatus(errorType),
                        flex: self.flex && !self.started
                    )
                )
            default:
                // Anthropic's versioning policy allows new event types: pass them along.
                return self.beforeOrAfterStart
            }
        }

        var result: UpstreamResult? {
            guard self.message != nil else { return nil }
            return AnthropicMessagesAdapter.result(usage: self.usage)
        }

        func assembleResponse() throws(RouterError) -> ByteBuffer {
            guard var message = self.message else {
                throw RouterError(.upstreamStreamTruncated, "the Anthropic stream ended before its message_start event")
            }
            var content: [JSONValue] = []
            content.reserveCapacity(self.blocks.count)
            for index in self.blocks.keys.sorted() {
                guard let block = self.blocks[index] else { continue }
                content.append(.object(try Self.build(block)))
            }
            message["content"] = .array(content)
            message.overlay(self.delta, skippingNulls: false)
            message["usage"] = .object(self.usage)
            return NativeBody.encode(message)
        }

        /// A `content_block_delta` after the commit to a streaming caller, for a block that exists:
        /// counted, not applied. Nil for anything else, which ``consume(_:)`` reads in full (the
        /// other events are a few per answer).
        private mutating func relayedDelta(_ event: NativeEvent) -> EventDisposition? {
            guard
                let (object, found) = NativeBody.relayed(
                    event,
                    keeping: Self.relayKeys,
                    probing: Self.relayProbes,
                    reusing: Self.relayTypes
                )
            else { return self.malformed(event) }
            guard (object["type"]?.string ?? event.event) == "content_block_delta", found[3],
                let index = object["index"]?.int, self.blocks[index] != nil
            else { return nil }
            if found[0] || found[1] || found[2] { self.outputEvents += 1 }
            return .content
        }

        // MARK: Helpers

        private var beforeOrAfterStart: EventDisposition { self.started ? .content : .preamble }

        private func malformed(_ event: NativeEvent) -> EventDisposition {
            .error(.retryable(NativeBody.malformedEvent(.anthropic, event), beforeAnyByte: false))
        }

        /// Applies one `content_block_delta` the way Anthropic's SDKs do; a delta that does not fit
        /// the block's type is ignored, as they ignore it.
        static func apply(_ delta: JSONObject, to block: inout Block) {
            switch delta["type"]?.string ?? "" {
            case "text_delta":
                if block.type == "text", let text = delta["text"]?.string { block.text += text }
            case "input_json_delta":
                if let piece = delta["partial_json"]?.string { block.partialJSON += piece }
            case "thinking_delta":
                if block.type == "thinking", let text = delta["thinking"]?.string { block.thinking += text }
            case "signature_delta":
                if block.type == "thinking", let signature = delta["signature"]?.string { block.signature = signature }
            case "citations_delta":
                if block.type == "text", let citation = delta["citation"] { block.citations.append(citation) }
            default:
                break
            }
        }

        /// The block as the unstreamed message has it.
        static func build(_ block: Block) throws(RouterError) -> JSONObject {
            var object = block.start
            switch block.type {
            case "text":
                object["text"] = .string((object["text"]?.string ?? "") + block.text)
                if !block.citations.isEmpty {
                    object["citations"] = .array((object["citations"]?.array ?? []) + block.citations)
                }
            case "thinking":
                object["thinking"] = .string((object["thinking"]?.string ?? "") + block.thinking)
                if let signature = block.signature { object["signature"] = .string(signature) }
            default:
                break
            }
            // tool_use, server_tool_use, mcp_tool_use, ...: the input arrives as JSON text in pieces.
            if !block.partialJSON.isEmpty {
                guard let input = try? JSONParser.parse(block.partialJSON) else {
                    throw RouterError(
                        .upstreamMalformedEvent,
                        "Anthropic streamed a \(block.type.prefix(40)) block whose input is not valid JSON"
                    )
                }
                object["input"] = input
            }
            return object
        }
    }
}
