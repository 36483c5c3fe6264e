import FlexCore
import FlexJSON
import Testing

/// Adds a typed stream's events up, the way a typed client would, and checks the delta contract on
/// the way: the first fragment of each call carries its id and name, indices start at 0 and grow
/// by one, exactly one finish, last.
struct TypedStreamAccumulator {
    var result = ChatResult()
    var problems: [String] = []
    var finishes = 0
    var sawRoute = false

    init(_ events: [StreamEvent]) {
        for (position, event) in events.enumerated() {
            if self.finishes > 0 { self.problems.append("event \(position) after the finish: \(event)") }
            switch event {
            case .route:
                if position != 0 { self.problems.append("route event at \(position)") }
                self.sawRoute = true
            case .native:
                self.problems.append("a native event in a typed stream")
            case .text(let text):
                if text.isEmpty { self.problems.append("an empty text delta") }
                self.result.text += text
            case .reasoning(let text):
                if text.isEmpty { self.problems.append("an empty reasoning delta") }
                self.result.reasoningSummary += text
            case .toolCall(let delta):
                let index = Int(delta.index)
                if index == self.result.toolCalls.count {
                    if delta.id.isEmpty || delta.name.isEmpty {
                        self.problems.append("call \(index) started without id or name")
                    }
                    self.result.toolCalls.append(
                        ToolCall(id: delta.id, name: delta.name, argumentsJSON: delta.argumentsFragment)
                    )
                } else if index < self.result.toolCalls.count {
                    if !delta.id.isEmpty { self.problems.append("call \(index) got its id twice") }
                    if !delta.name.isEmpty { self.result.toolCalls[index].name += delta.name }
                    self.result.toolCalls[index].argumentsJSON += delta.argumentsFragment
                } else {
                    self.problems.append("call index \(index) skips \(self.result.toolCalls.count)")
                }
            case .finish(let finish):
                self.finishes += 1
                self.result.finishReason = finish.finishReason
                self.result.nativeFinishReason = finish.nativeFinishReason
                self.result.usage = finish.usage
            }
        }
        if self.finishes != 1 { self.problems.append("\(self.finishes) finish events") }
    }
}

/// What two typed results must agree on when they answer the same request: everything but the
/// per-response ids, with call arguments compared as JSON.
struct TypedContent: Equatable, CustomStringConvertible {
    var text: String
    var refusal: String
    var reasoning: String
    var calls: [String]
    var finish: FinishReason?
    var native: String

    init(_ result: ChatResult) {
        self.text = result.text
        self.refusal = result.refusal
        self.reasoning = result.reasoningSummary
        self.calls = result.toolCalls.map { call in
            "\(call.name)(\((try? JSONParser.parse(call.argumentsJSON))?.jsonString ?? "<not JSON: \(call.argumentsJSON)>"))"
        }
        self.finish = result.finishReason
        self.native = result.nativeFinishReason
    }

    var description: String {
        "text=\(self.text.prefix(40).debugDescription) refusal=\(self.refusal.debugDescription) reasoning=\(self.reasoning.count) chars calls=\(self.calls) finish=\(String(describing: self.finish)) native=\(self.native)"
    }
}
