internal import FlexCore

/// The views of a typed request that several translators share.
extension TypedRequest {
    /// The tool choice, or nil when it says nothing the API needs to hear: no tools and `auto` or
    /// `none` (the APIs refuse a tool choice without tools, and without tools it changes nothing).
    var effectiveToolChoice: ToolChoice? {
        guard let choice = self.chat.toolChoice else { return nil }
        if self.tools.isEmpty && (choice.mode == .auto || choice.mode == .none) { return nil }
        return choice
    }

    /// Whether parallel calls are asked for explicitly, and there are tools for it to matter.
    var effectiveParallelToolCalls: Bool? {
        self.tools.isEmpty ? nil : self.chat.parallelToolCalls
    }

    /// For the APIs with one instruction field (Anthropic `system`, Gemini `systemInstruction` and
    /// `system_instruction`): the leading system and developer messages, and the rest.
    ///
    /// An instruction after the conversation started cannot be expressed there (moving it to the
    /// front would change what it means), so it is `unsupported_for_provider`.
    func leadingInstructions() throws(RouterError) -> (instructions: [Message], turns: ArraySlice<Message>) {
        let count = self.messages.prefix { $0.role == .system || $0.role == .developer }.count
        let turns = self.messages[count...]
        if let late = turns.first(where: { $0.role == .system || $0.role == .developer }) {
            throw RouterError.unsupportedForProvider(
                "\(late.field).role",
                api: self.api,
                "it has a single instruction field, so system and developer messages must come before the conversation"
            )
        }
        for message in self.messages.prefix(count) {
            if let image = message.images.first {
                throw RouterError.unsupportedForProvider(image.field, api: self.api, "instructions can only be text")
            }
        }
        return (Array(self.messages.prefix(count)), turns)
    }

    /// The name of the tool a tool message answers: its own `name`, else the name of the latest
    /// earlier assistant call with its `tool_call_id`.
    func toolName(of message: Message) -> String? {
        if !message.name.isEmpty { return message.name }
        for earlier in self.messages[..<message.index].reversed() where earlier.role == .assistant {
            if let call = earlier.toolCalls.last(where: { $0.id == message.toolCallID }) { return call.name }
        }
        return nil
    }

    /// Refuses a participant `name` on a non-tool message (only Chat Completions has the field).
    func refuseParticipantNames() throws(RouterError) {
        if let named = self.messages.first(where: { $0.role != .tool && !$0.name.isEmpty }) {
            throw RouterError.unsupportedForProvider(
                "\(named.field).name",
                api: self.api,
                "it has no participant names"
            )
        }
    }

    /// Refuses images in roles that cannot carry them on this API.
    func refuseImages(in roles: Set<Role>, _ reason: String) throws(RouterError) {
        for message in self.messages where roles.contains(message.role) {
            if let image = message.images.first {
                throw RouterError.unsupportedForProvider(image.field, api: self.api, reason)
            }
        }
    }

    /// Refuses any image detail other than `auto` (the API has no such knob).
    func refuseImageDetail() throws(RouterError) {
        for message in self.messages {
            if let image = message.images.first(where: { $0.detail != .auto }) {
                throw RouterError.unsupportedForProvider(
                    "\(image.field).detail",
                    api: self.api,
                    "it has no per-image detail setting; use auto"
                )
            }
        }
    }

    /// The messages after the leading instructions, with consecutive tool results gathered into
    /// one group together with a user message right after them: Anthropic and Gemini want all
    /// results of a (parallel) call in the one user turn that follows it.
    static func groups(_ turns: ArraySlice<Message>) -> [[Message]] {
        var groups: [[Message]] = []
        for message in turns {
            if let last = groups.last?.last,
                last.role == .tool && (message.role == .tool || message.role == .user)
            {
                groups[groups.count - 1].append(message)
            } else {
                groups.append([message])
            }
        }
        return groups
    }
}
