internal import Foundation

/// Removes credentials from text that may be logged or shown: provider messages sometimes quote
/// the key they rejected (OpenAI's 401 says "Incorrect API key provided: sk-...abcd").
public enum Redaction {
    /// Prefixes of provider keys and flexd keys; whatever key-like run follows is replaced.
    public static let prefixes = ["sk-", "AIza", "fxk_", "flex_live_", "flex_test_"]

    /// `text` with every key-like token (a known prefix followed by key characters, masked or not)
    /// replaced by `[redacted]`, and every exact occurrence of `secrets` too.
    public static func scrub(_ text: String, secrets: [String] = []) -> String {
        var result = text
        for secret in secrets where secret.count >= 8 {
            result = result.replacingOccurrences(of: secret, with: "[redacted]")
        }
        guard Self.prefixes.contains(where: { result.contains($0) }) else { return result }
        var output = ""
        output.reserveCapacity(result.utf8.count)
        var index = result.startIndex
        while index < result.endIndex {
            if let prefix = Self.prefixes.first(where: { result[index...].hasPrefix($0) }) {
                var end = result.index(index, offsetBy: prefix.count)
                while end < result.endIndex, Self.isKeyCharacter(result[end]) {
                    end = result.index(after: end)
                }
                output += "[redacted]"
                index = end
            } else {
                output.append(result[index])
                index = result.index(after: index)
            }
        }
        return output
    }

    /// Letters, digits and the characters keys and masked keys use (`-`, `_`, `*`, `.`, `…`).
    private static func isKeyCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber) || "-_*.…".contains(character)
    }
}
