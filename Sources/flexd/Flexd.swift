import ArgumentParser

/// The `flexd` command. This branch carries only `report`; `serve` lives on main and the two
/// merge into this one root command.
@main
struct Flexd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flexd",
        abstract: "flexd: a flex-first LLM inference router.",
        subcommands: [ReportCommand.self]
    )
}
