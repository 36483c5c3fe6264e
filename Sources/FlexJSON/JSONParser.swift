/// A strict RFC 8259 JSON parser over bytes, with a nesting limit.
///
/// Strict on purpose: the providers reject malformed bodies, and so must flexsim. Errors carry the
/// byte offset so the provider-shaped error message can say where parsing stopped.
public struct JSONParser {
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "\(self.reason) at byte \(self.offset)" }
    }

    public static let maximumDepth = 128

    /// Parses one JSON document that must fill `bytes` (surrounding whitespace allowed).
    public static func parse(_ bytes: some Collection<UInt8>) throws(Error) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(Error) -> JSONValue in
            var parser = Cursor(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw Error(offset: parser.index, reason: "unexpected data after the JSON value") }
            return value
        }
    }

    /// Parses a UTF-8 string.
    public static func parse(_ text: String) throws(Error) -> JSONValue { try self.parse(Array(text.utf8)) }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x0A, 0x0D, 0x09: self.index += 1
                default: return
                }
            }
        }

        func fail(_ reason: String) -> Error { Error(offset: self.index, reason: reason) }

        mutating func value(depth: Int) throws(Error) -> JSONValue {
            guard depth < JSONParser.maximumDepth else { throw self.fail("nesting deeper than \(JSONParser.maximumDepth)") }
            guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
            switch self.bytes[self.index] {
            case UInt8(ascii: "{"): return try self.object(depth: depth)
            case UInt8(ascii: "["): return try self.array(depth: depth)
            case UInt8(ascii: "\""): return .string(try self.string())
            case UInt8(ascii: "t"): try self.literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try self.literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try self.literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try self.number()
            default: throw self.fail("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(Error) {
            let count = word.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count else { throw self.fail("unexpected end of input") }
            for offset in 0..<count where self.bytes[self.index + offset] != word.utf8Start[offset] {
                throw self.fail("invalid literal")
            }
            self.index += count
        }

        mutating func object(depth: Int) throws(Error) -> JSONValue {
            self.index += 1
            var fields: [(key: String, value: JSONValue)] = []
            self.skipWhitespace()
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
                self.index += 1
                return .object(JSONObject(fields))
            }
            while true {
                self.skipWhitespace()
                guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                    throw self.fail("expected a string key")
                }
                let key = try self.string()
                self.skipWhitespace()
                guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else { throw self.fail("expected ':'") }
                self.index += 1
                self.skipWhitespace()
                let value = try self.value(depth: depth + 1)
                fields.append((key: key, value: value))
                self.skipWhitespace()
                guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
                if self.bytes[self.index] == UInt8(ascii: ",") { self.index += 1; continue }
                if self.bytes[self.index] == UInt8(ascii: "}") { self.index += 1; return .object(JSONObject(fields)) }
                throw self.fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(Error) -> JSONValue {
            self.index += 1
            var elements: [JSONValue] = []
            self.skipWhitespace()
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
                self.index += 1
                return .array(elements)
            }
            while true {
                self.skipWhitespace()
                elements.append(try self.value(depth: depth + 1))
                self.skipWhitespace()
                guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
                if self.bytes[self.index] == UInt8(ascii: ",") { self.index += 1; continue }
                if self.bytes[self.index] == UInt8(ascii: "]") { self.index += 1; return .array(elements) }
                throw self.fail("expected ',' or ']'")
            }
        }

        mutating func string() throws(Error) -> String {
            self.index += 1
            let start = self.index
            // Fast path: no escapes.
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: self.bytes[start..<self.index])
                    self.index += 1
                    guard let text = String(validating: slice, as: UTF8.self) else { throw Error(offset: start, reason: "invalid UTF-8 in string") }
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw self.fail("control character in string") }
                self.index += 1
            }
            var scalars: [UInt8] = Array(UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]))
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: "\"") {
                    self.index += 1
                    guard let text = String(validating: scalars, as: UTF8.self) else { throw Error(offset: start, reason: "invalid UTF-8 in string") }
                    return text
                }
                if byte < 0x20 { throw self.fail("control character in string") }
                if byte != UInt8(ascii: "\\") {
                    scalars.append(byte)
                    self.index += 1
                    continue
                }
                self.index += 1
                guard self.index < self.bytes.count else { break }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try self.hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                              self.bytes[self.index + 1] == UInt8(ascii: "u") else { throw self.fail("unpaired surrogate") }
                        self.index += 2
                        let low = try self.hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw self.fail("invalid low surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw self.fail("unpaired surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw self.fail("invalid unicode escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw self.fail("invalid escape")
                }
            }
            throw self.fail("unterminated string")
        }

        mutating func hex4() throws(Error) -> UInt32 {
            guard self.index + 4 <= self.bytes.count else { throw self.fail("unexpected end of input") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = self.bytes[self.index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw self.fail("invalid hex digit")
                }
                value = value * 16 + digit
                self.index += 1
            }
            return value
        }

        mutating func number() throws(Error) -> JSONValue {
            let start = self.index
            var isInteger = true
            if self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
            guard self.index < self.bytes.count else { throw self.fail("invalid number") }
            if self.bytes[self.index] == UInt8(ascii: "0") {
                self.index += 1
            } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(self.bytes[self.index]) {
                while self.index < self.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index]) { self.index += 1 }
            } else {
                throw self.fail("invalid number")
            }
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ".") {
                isInteger = false
                self.index += 1
                let digits = self.index
                while self.index < self.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index]) { self.index += 1 }
                guard self.index > digits else { throw self.fail("invalid number") }
            }
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "e") || self.bytes[self.index] == UInt8(ascii: "E") {
                isInteger = false
                self.index += 1
                if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "+") || self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
                let digits = self.index
                while self.index < self.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index]) { self.index += 1 }
                guard self.index > digits else { throw self.fail("invalid number") }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
            if isInteger, let value = Int64(text) { return .int(value) }
            guard let value = Double(text), value.isFinite else { throw Error(offset: start, reason: "number out of range") }
            return .double(value)
        }
    }
}
