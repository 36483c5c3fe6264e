internal import FlexJSON

/// Decides, deterministically from the seed and the request, what the model answers: text, tool
/// calls (one per declared tool, all of them when parallel calls are allowed), structured JSON
/// that satisfies the schema, and reasoning tokens.
struct OutputGenerator {
    static let vocabulary = [
        "the", "flex", "tier", "serves", "this", "request", "at", "half", "price", "while", "standard",
        "capacity", "waits", "in", "a", "queue", "and", "tokens", "stream", "back", "quickly", "model",
        "answer", "simulated", "router", "budget", "seconds", "provider", "cost", "saved",
    ]

    let seed: UInt64

    func generate(_ request: SimRequest, ids: inout IDSource) -> SimOutput {
        var random = SimRandom(seed: self.seed, request.contentHash)
        var output = SimOutput()
        output.reasoningTokens = request.reasoningTokens
        if request.visibleThinking && request.reasoningTokens > 0 {
            output.thinking = self.words(count: request.reasoningTokens, random: &random)
        }
        let budget = request.maxOutputTokens ?? Int.max

        let callTools: Bool = {
            guard !request.tools.isEmpty else { return false }
            switch request.toolChoice {
            case .none: return false
            case .required, .named: return true
            case .auto: return !request.lastTurnIsToolResult
            }
        }()
        if callTools {
            var chosen: [ToolSpec]
            if case .named(let name) = request.toolChoice {
                chosen = request.tools.filter { $0.name == name }
            } else {
                chosen = request.parallelToolCalls ? Array(request.tools.prefix(4)) : [request.tools[0]]
            }
            if chosen.isEmpty { chosen = [request.tools[0]] }
            for tool in chosen {
                var generator = SchemaInstance(
                    root: tool.parameters ?? ["type": "object", "properties": [:]],
                    random: random
                )
                let arguments = generator.instance().jsonString
                random = generator.random
                let pieces = Self.split(arguments)
                output.items.append(
                    .toolCall(callID: ids.toolCallID(), name: tool.name, arguments: arguments, pieces: pieces)
                )
                output.outputTokens += pieces.count
            }
            output.finish = .toolCalls
            return output
        }

        var pieces: [String]
        if let schema = request.responseSchema {
            var generator = SchemaInstance(root: schema, random: random)
            pieces = Self.split(generator.instance().jsonString)
        } else if request.jsonObject {
            pieces = Self.split(
                JSONValue.object(["answer": .string(self.words(count: 6, random: &random).joined())]).jsonString
            )
        } else {
            let count = request.forcedOutputTokens ?? (16 + Int(random.next() % 48))
            pieces = self.words(count: count, random: &random)
            if let last = pieces.indices.last { pieces[last] += "." }
        }
        if pieces.count > budget {
            pieces = Array(pieces.prefix(max(0, budget)))
            output.finish = .length
        }
        output.items.append(.text(pieces: pieces))
        output.outputTokens = pieces.count
        return output
    }

    /// `count` words, one token each; the first is capitalised and the rest start with a space.
    func words(count: Int, random: inout SimRandom) -> [String] {
        var words: [String] = []
        words.reserveCapacity(count)
        for index in 0..<count {
            let word = Self.vocabulary[Int(random.next() % UInt64(Self.vocabulary.count))]
            words.append(index == 0 ? word.prefix(1).uppercased() + word.dropFirst() : " " + word)
        }
        return words
    }

    /// Splits text into pieces of about four bytes (one token each), on character boundaries.
    static func split(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var bytes = 0
        for character in text {
            current.append(character)
            bytes += character.utf8.count
            if bytes >= 4 {
                pieces.append(current)
                current = ""
                bytes = 0
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}

/// Unique ids for one request, derived from its request number so that two identical requests
/// never share an id (the content stays a function of the seed and the body alone).
struct IDSource {
    private var random: SimRandom
    init(requestNumber: UInt64, nonce: UInt64) { self.random = SimRandom(seed: nonce, requestNumber) }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    mutating func token(_ length: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<length { bytes.append(Self.alphabet[Int(self.random.next() % 62)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func hex(_ length: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for _ in 0..<length { bytes.append(digits[Int(self.random.next() % 16)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func toolCallID() -> String { "call_" + self.token(24) }
}
