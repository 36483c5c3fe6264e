/// Every seed, each of its truncations, and every one-byte change of it to one of `replacements`:
/// the inputs the parser tests compare two parsers on. Returns how many one-byte changes it made.
func forEachMutation(of seeds: [String], replacements: [UInt8], _ body: ([UInt8]) -> Void) -> Int {
    var changed = 0
    for seed in seeds {
        let bytes = Array(seed.utf8)
        body(bytes)
        for cut in 0..<bytes.count { body(Array(bytes[..<cut])) }
        for position in bytes.indices {
            for replacement in replacements where replacement != bytes[position] {
                var mutated = bytes
                mutated[position] = replacement
                body(mutated)
                changed += 1
            }
        }
    }
    return changed
}
