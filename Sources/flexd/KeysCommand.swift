import ArgumentParser
import FlexServer
import Foundation

/// `flexd keys new|hash`: makes flexd API keys and the keys-file lines that admit them.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make flexd API keys and keys-file entries.",
        subcommands: [New.self, Hash.self]
    )

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random API key for a tenant, and the keys-file entry that admits it."
        )

        @Option(help: "The tenant the key belongs to.")
        var tenant: String

        func run() throws {
            var generator = SystemRandomNumberGenerator()
            let random = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }
                .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
            let key = "fxk_" + random
            print("key (give it to the tenant; flexd stores only its hash):")
            print("  \(key)")
            print("keys-file entry:")
            print(#"  {"id": "\#(self.tenant)", "api_key_sha256": "\#(TenantDirectory.hashHex(key))"}"#)
        }
    }

    struct Hash: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the SHA-256 a keys file stores for a key read from stdin."
        )

        func run() throws {
            guard let key = readLine(strippingNewline: true), !key.isEmpty else {
                throw ValidationError("write the key on standard input")
            }
            print(TenantDirectory.hashHex(key))
        }
    }
}
