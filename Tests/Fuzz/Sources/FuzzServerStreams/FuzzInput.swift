/// The fuzz input as a stream of choices: each read takes the next byte, and reads past the end
/// give 0, so every input (however short) describes a whole run.
struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { self.index >= self.bytes.count }

    mutating func byte() -> UInt8 {
        guard self.index < self.bytes.count else { return 0 }
        defer { self.index += 1 }
        return self.bytes[self.index]
    }

    /// One of `choices`, picked by the next byte.
    mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(self.byte()) % choices.count]
    }

    mutating func uint32() -> UInt32 {
        (0..<4).reduce(0) { value, _ in value << 8 | UInt32(self.byte()) }
    }

    /// Up to `limit` bytes, as many as the next byte says (fewer when the input ends first).
    mutating func bytes(upTo limit: Int) -> [UInt8] {
        let count = min(Int(self.byte()) % (limit + 1), self.bytes.count - self.index)
        guard count > 0 else { return [] }
        defer { self.index += count }
        return Array(self.bytes[self.index..<(self.index + count)])
    }
}
