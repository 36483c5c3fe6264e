import ArgumentParser

/// `flexd`: the flex-first inference router. `flexd serve` (the default) runs the server;
/// `flexd keys` manages API keys; `flexd report` prints the savings ledger's monthly fee report.
@main
struct Flexd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flexd",
        abstract: "A flex-first LLM inference router behind a gRPC-style binary protocol.",
        discussion: """
            flexd takes OpenAI, Anthropic and Gemini calls over TCP (Proto/PROTOCOL.md), tries the \
            provider's half-price flex tier first, falls back to standard when flex cannot start \
            within the call's start_within, and answers with a savings record for every call.
            """,
        subcommands: [ServeCommand.self, KeysCommand.self, ReportCommand.self],
        defaultSubcommand: ServeCommand.self
    )
}
