/// What the simulated model "said": produced by ``OutputGenerator`` from a ``SimRequest``, then
/// rendered into each API's response body or event stream.
struct SimOutput {
    enum Item {
        /// Visible text (or structured JSON), in token-sized pieces.
        case text(pieces: [String])
        case toolCall(callID: String, name: String, arguments: String, pieces: [String])
    }

    enum Finish {
        case stop
        case length
        case toolCalls
    }

    /// Thinking text pieces, when the API returns thinking (each piece is one token).
    var thinking: [String] = []
    var reasoningTokens = 0
    var items: [Item] = []
    var finish: Finish = .stop
    /// Visible output tokens (text and tool-call arguments), reasoning excluded.
    var outputTokens = 0

    var text: String {
        self.items.compactMap { if case .text(let pieces) = $0 { pieces.joined() } else { nil } }.joined()
    }

    var toolCalls: [(callID: String, name: String, arguments: String)] {
        self.items.compactMap {
            if case .toolCall(let id, let name, let arguments, _) = $0 { (id, name, arguments) } else { nil }
        }
    }
}
