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
        try Self.withContiguousBytes(bytes) { buffer in
            Result { () throws(Error) -> JSONValue in
                var parser = Cursor(bytes: buffer)
                parser.skipWhitespace()
                let value = try parser.value(depth: 0)
                try parser.expectEnd()
                return value
            }
        }.get()
    }

    /// Parses one JSON document that must be an object, keeping only the members named in `keys`
    /// (their values in full, in document order).
    ///
    /// Every other member is checked as `parse(_:)` checks it (grammar, nesting, escapes, UTF-8)
    /// but not built: reading the usage of a large answer allocates nothing for the answer's text.
    /// One difference: a skipped number is not checked for range, where `parse(_:)` refuses one
    /// that overflows a `Double`.
    ///
    /// - Throws: ``Error`` for a document that is not valid JSON, or whose value is not an object.
    public static func parseObject(_ bytes: some Collection<UInt8>, keeping keys: [String]) throws(Error) -> JSONObject
    {
        try Self.withContiguousBytes(bytes) { buffer in
            Result { () throws(Error) -> JSONObject in
                var parser = Cursor(bytes: buffer)
                parser.skipWhitespace()
                let object = try parser.keptMembers(keys)
                try parser.expectEnd()
                return object
            }
        }.get()
    }

    /// ``parseObject(_:keeping:)``, and for each of `probes` (at most 64) whether the document has
    /// a value its ``JSONProbe/Match`` accepts (by default: not empty) at its path, found without
    /// building it.
    ///
    /// What a reader of an event stream uses for the events it relays: it needs to know *that*
    /// a chunk carries text, not the text. A probe whose first member is one of `keys` is not
    /// answered (the kept value is there to look at). The document is checked in full, as by
    /// ``parseObject(_:keeping:)``.
    ///
    /// A string in the kept values equal to one of `reusing` is that `String` (a constant's is
    /// free to copy) rather than one built for it: a reader that keeps an event's `type` names the
    /// types it expects, and a stream of `content_block_delta` events builds none of them. (Strings
    /// of up to 15 bytes are built without an allocation anyway.)
    ///
    /// - Throws: ``Error`` for a document that is not valid JSON, or whose value is not an object.
    public static func parseObject(
        _ bytes: some Collection<UInt8>,
        keeping keys: [String],
        probing probes: [JSONProbe],
        reusing known: [String] = []
    ) throws(Error) -> (members: JSONObject, probes: JSONProbeResults) {
        precondition(probes.count <= 64, "at most 64 probes")
        return try Self.withContiguousBytes(bytes) { buffer in
            Result { () throws(Error) -> (members: JSONObject, probes: JSONProbeResults) in
                var parser = Cursor(bytes: buffer, known: known)
                parser.skipWhitespace()
                var found = JSONProbeResults()
                let object = try parser.keptMembers(keys, probes: probes, found: &found.bits)
                try parser.expectEnd()
                return (object, found)
            }
        }.get()
    }

    /// Parses one JSON document that must be an object, keeping the members named in `keys` (as
    /// ``parseObject(_:keeping:)``) and returning where the others are: the byte ranges (offsets
    /// into `bytes`) of each run of consecutive members not kept, from the first one's key to the
    /// last one's value, separators included.
    ///
    /// What a router uses to pass a body on with a few members changed: it reads and rewrites
    /// the members it owns and copies the caller's bytes for the rest, neither building nor
    /// re-encoding them. Every member is checked as by ``parseObject(_:keeping:)``; every
    /// occurrence of a kept key is kept (a duplicate key is never left in the runs).
    ///
    /// - Throws: ``Error`` for a document that is not valid JSON, or whose value is not an object.
    public static func splitObject(
        _ bytes: some Collection<UInt8>,
        keeping keys: [String]
    ) throws(Error) -> (kept: JSONObject, others: [Range<Int>]) {
        try Self.withContiguousBytes(bytes) { buffer in
            Result { () throws(Error) -> (kept: JSONObject, others: [Range<Int>]) in
                var parser = Cursor(bytes: buffer)
                parser.skipWhitespace()
                let split = try parser.splitMembers(keys)
                try parser.expectEnd()
                return split
            }
        }.get()
    }

    /// Why ``splitObject(_:keeping:)`` refused `bytes` with `error`, for a message: the type of
    /// the value when `bytes` are valid JSON but not an object, or else where the full parser finds
    /// the JSON broken (the split, expecting an object, stops at the first byte of any other value).
    /// Parses `bytes` again: for the refusal path only.
    public static func refusal(
        of bytes: some Collection<UInt8>,
        _ error: Error
    ) -> (notAnObject: String?, error: Error) {
        switch Result(catching: { () throws(Error) in try Self.parse(bytes) }) {
        case .success(let value) where value.object == nil: (value.typeName, error)
        case .success: (nil, error)
        case .failure(let parseError): (nil, parseError)
        }
    }

    /// Runs `body` over `bytes` in place when they are contiguous (an `Array`, a `ByteBuffer`'s
    /// view), over a copy otherwise.
    private static func withContiguousBytes<R>(
        _ bytes: some Collection<UInt8>,
        _ body: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        if let result = bytes.withContiguousStorageIfAvailable(body) {
            return result
        }
        return Array(bytes).withUnsafeBufferPointer(body)
    }

    /// Parses a UTF-8 string.
    public static func parse(_ text: String) throws(Error) -> JSONValue { try self.parse(Array(text.utf8)) }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Strings returned as they are when a string's bytes equal theirs.
        let known: [String]

        init(bytes: UnsafeBufferPointer<UInt8>, known: [String] = []) {
            self.bytes = bytes
            self.known = known
        }

        mutating func skipWhitespace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x0A, 0x0D, 0x09: self.index += 1
                default: return
                }
            }
        }

        func fail(_ reason: String) -> Error { Error(offset: self.index, reason: reason) }

        mutating func expectEnd() throws(Error) {
            self.skipWhitespace()
            guard self.index == self.bytes.count else { throw self.fail("unexpected data after the JSON value") }
        }

        // MARK: Keeping some members of an object

        /// The members of the object at the cursor whose keys are in `keys`; the others skipped.
        mutating func keptMembers(_ keys: [String]) throws(Error) -> JSONObject {
            var none: UInt64 = 0
            return try self.keptMembers(keys, probes: [], found: &none)
        }

        /// ``keptMembers(_:)``, answering `probes` in the members it does not keep (``JSONProbe``).
        mutating func keptMembers(
            _ keys: [String],
            probes: [JSONProbe],
            found: inout UInt64
        ) throws(Error) -> JSONObject {
            guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
            guard self.bytes[self.index] == UInt8(ascii: "{") else { throw self.fail("expected an object") }
            let all: UInt64 = probes.isEmpty ? 0 : UInt64.max >> UInt64(64 - probes.count)
            var fields: [(key: String, value: JSONValue)] = []
            try self.walkObject { (cursor) throws(Error) in
                var probed: UInt64 = 0
                let key = try cursor.key { raw -> String? in
                    if let key = keys.first(where: { Self.equal($0, raw) }) { return key }
                    probed = Self.probesStepping(into: raw, probes, all, step: 0)
                    return nil
                }
                try cursor.colon()
                if let key {
                    // Room for every kept key at once: one allocation per object, not one per growth.
                    if fields.isEmpty { fields.reserveCapacity(keys.count) }
                    fields.append((key: key, value: try cursor.value(depth: 1)))
                } else if probed != 0 {
                    try cursor.probe(probes, probed, step: 1, depth: 1, found: &found)
                } else {
                    try cursor.skipValue(depth: 1)
                }
            }
            return JSONObject(fields)
        }

        /// The members of the object at the cursor whose keys are in `keys`, and the byte ranges
        /// of the runs of the others (``JSONParser/splitObject(_:keeping:)``).
        mutating func splitMembers(_ keys: [String]) throws(Error) -> (kept: JSONObject, others: [Range<Int>]) {
            guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
            guard self.bytes[self.index] == UInt8(ascii: "{") else { throw self.fail("expected an object") }
            var fields: [(key: String, value: JSONValue)] = []
            var others: [Range<Int>] = []
            var run: Range<Int>?
            try self.walkObject { (cursor) throws(Error) in
                let start = cursor.index
                let key = try cursor.key { raw in keys.first(where: { Self.equal($0, raw) }) }
                try cursor.colon()
                if let key {
                    if let open = run {
                        others.append(open)
                        run = nil
                    }
                    fields.append((key: key, value: try cursor.value(depth: 1)))
                } else {
                    try cursor.skipValue(depth: 1)
                    run = (run?.lowerBound ?? start)..<cursor.index
                }
            }
            if let run { others.append(run) }
            return (JSONObject(fields), others)
        }

        /// Reads the key at the cursor and returns what `match` makes of its UTF-8.
        mutating func key<R>(_ match: (UnsafeBufferPointer<UInt8>) -> R) throws(Error) -> R {
            let start = self.index
            if try self.skipString() {
                return match(UnsafeBufferPointer(rebasing: self.bytes[(start + 1)..<(self.index - 1)]))
            }
            // A key with escapes (rare): decoded to compare.
            var decoder = self
            decoder.index = start
            var key = try decoder.string()
            return key.withUTF8 { match($0) }
        }

        /// Whether `name`'s UTF-8 is `raw`.
        static func equal(_ name: String, _ raw: UnsafeBufferPointer<UInt8>) -> Bool {
            let utf8 = name.utf8
            guard utf8.count == raw.count else { return false }
            return utf8.withContiguousStorageIfAvailable { $0.elementsEqual(raw) } ?? utf8.elementsEqual(raw)
        }

        // MARK: Probing (checked, not built)

        /// The probes of the set `active` (bit `i`: probe `i`) for which `keep` holds.
        static func selecting(_ active: UInt64, where keep: (Int) -> Bool) -> UInt64 {
            var selected: UInt64 = 0
            var rest = active
            while rest != 0 {
                let index = rest.trailingZeroBitCount
                rest &= rest - 1
                if keep(index) { selected |= 1 << UInt64(index) }
            }
            return selected
        }

        /// Of the probes in `active`, those whose step `step` is the member `raw`.
        static func probesStepping(
            into raw: UnsafeBufferPointer<UInt8>,
            _ probes: [JSONProbe],
            _ active: UInt64,
            step: Int
        ) -> UInt64 {
            Self.selecting(active) { index in
                if case .member(let name) = probes[index].steps[step] { Self.equal(name, raw) } else { false }
            }
        }

        /// Checks the value at the cursor and moves past it: the probes in `active` have matched
        /// their first `step` steps on the way here. Those with no step left are answered by this
        /// value; the others go on into its members or elements.
        mutating func probe(
            _ probes: [JSONProbe],
            _ active: UInt64,
            step: Int,
            depth: Int,
            found: inout UInt64
        ) throws(Error) {
            guard depth < JSONParser.maximumDepth else {
                throw self.fail("nesting deeper than \(JSONParser.maximumDepth)")
            }
            guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
            let answered = Self.selecting(active) { probes[$0].steps.count == step }
            let going = active & ~answered
            let first = self.bytes[self.index]
            if answered != 0, self.startsNonEmptyValue() {
                found |= Self.selecting(answered) { index in
                    switch probes[index].match {
                    case .nonEmpty: true
                    case .nonEmptyString: first == UInt8(ascii: "\"")
                    case .nonEmptyArray: first == UInt8(ascii: "[")
                    case .nonEmptyObject: first == UInt8(ascii: "{")
                    }
                }
            }
            switch first {
            case UInt8(ascii: "{") where going != 0:
                try self.walkObject { (cursor) throws(Error) in
                    let next = try cursor.key { raw in Self.probesStepping(into: raw, probes, going, step: step) }
                    try cursor.colon()
                    if next != 0 {
                        try cursor.probe(probes, next, step: step + 1, depth: depth + 1, found: &found)
                    } else {
                        try cursor.skipValue(depth: depth + 1)
                    }
                }
            case UInt8(ascii: "[") where going != 0:
                let next = Self.selecting(going) { probes[$0].steps[step] == .anyElement }
                if next == 0 {
                    try self.skipValue(depth: depth)
                    return
                }
                try self.walkArray { (cursor) throws(Error) in
                    try cursor.probe(probes, next, step: step + 1, depth: depth + 1, found: &found)
                }
            default:
                try self.skipValue(depth: depth)
            }
        }

        /// Whether the value at the cursor is anything but `null`, `false`, `""`, `[]` or `{}`
        /// (without moving; the value is checked when it is read or skipped).
        func startsNonEmptyValue() -> Bool {
            switch self.bytes[self.index] {
            case UInt8(ascii: "n"), UInt8(ascii: "f"):
                return false
            case UInt8(ascii: "\""):
                return self.index + 1 < self.bytes.count && self.bytes[self.index + 1] != UInt8(ascii: "\"")
            case let open where open == UInt8(ascii: "[") || open == UInt8(ascii: "{"):
                var index = self.index + 1
                while index < self.bytes.count {
                    switch self.bytes[index] {
                    case 0x20, 0x0A, 0x0D, 0x09: index += 1
                    case UInt8(ascii: "]"), UInt8(ascii: "}"): return false
                    default: return true
                    }
                }
                return false
            default:
                return true
            }
        }

        // MARK: Skipping (checked, not built)

        mutating func skipValue(depth: Int) throws(Error) {
            guard depth < JSONParser.maximumDepth else {
                throw self.fail("nesting deeper than \(JSONParser.maximumDepth)")
            }
            guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
            switch self.bytes[self.index] {
            case UInt8(ascii: "{"): try self.skipObject(depth: depth)
            case UInt8(ascii: "["): try self.skipArray(depth: depth)
            case UInt8(ascii: "\""): _ = try self.skipString()
            case UInt8(ascii: "t"): try self.literal("true")
            case UInt8(ascii: "f"): try self.literal("false")
            case UInt8(ascii: "n"): try self.literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try self.scanNumber()
            default: throw self.fail("unexpected character")
            }
        }

        mutating func skipObject(depth: Int) throws(Error) {
            try self.walkObject { (cursor) throws(Error) in
                _ = try cursor.skipString()
                try cursor.colon()
                try cursor.skipValue(depth: depth + 1)
            }
        }

        mutating func skipArray(depth: Int) throws(Error) {
            try self.walkArray { (cursor) throws(Error) in try cursor.skipValue(depth: depth + 1) }
        }

        /// Checks the string at the cursor as ``string()`` does, without building it. Returns
        /// whether it had no escapes (its bytes between the quotes are then its UTF-8).
        mutating func skipString() throws(Error) -> Bool {
            self.index += 1
            let start = self.index
            var runStart = start
            var plain = true
            // The bytes of the run so far OR-ed together: an ASCII run needs no UTF-8 check.
            var bits: UInt8 = 0
            // Where to try whole words again: past the word the last try stopped at.
            var nextWords = self.index
            while self.index < self.bytes.count {
                if self.index >= nextWords {
                    self.skipPlainWords()
                    nextWords = self.index + 8
                    guard self.index < self.bytes.count else { break }
                }
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: "\"") {
                    // Escapes always decode to whole UTF-8 sequences, so checking each run of raw
                    // bytes on its own is the same as checking the decoded string.
                    guard bits < 0x80 || Self.isValidUTF8(self.bytes, runStart, self.index) else {
                        throw Error(offset: start, reason: "invalid UTF-8 in string")
                    }
                    self.index += 1
                    return plain
                }
                if byte < 0x20 { throw self.fail("control character in string") }
                if byte != UInt8(ascii: "\\") {
                    bits |= byte
                    self.index += 1
                    continue
                }
                plain = false
                guard bits < 0x80 || Self.isValidUTF8(self.bytes, runStart, self.index) else {
                    throw Error(offset: start, reason: "invalid UTF-8 in string")
                }
                bits = 0
                self.index += 1
                guard self.index < self.bytes.count else { break }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    _ = try self.unicodeEscape()
                default: throw self.fail("invalid escape")
                }
                runStart = self.index
            }
            throw self.fail("unterminated string")
        }

        /// Moves past whole 8-byte words of string content that need no look: ASCII, no quote, no
        /// backslash, no control character (a prompt's text is mostly such words). A word that may
        /// hold one of those stops it; the byte loop then reads it.
        mutating func skipPlainWords() {
            guard let base = self.bytes.baseAddress else { return }
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            while self.index + 8 <= self.bytes.count {
                let word = UnsafeRawPointer(base + self.index).loadUnaligned(as: UInt64.self)
                let quote = word ^ (ones &* 0x22)
                let backslash = word ^ (ones &* 0x5C)
                // A high bit of `(x - 0x01…) & ~x` is set for each zero byte of x (and, by the
                // borrow, maybe for bytes above one: a false alarm only sends the word to the byte
                // loop). With non-ASCII bytes excluded, `(word - 0x20…) & ~word` flags bytes < 0x20.
                let flagged =
                    ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                    | ((word &- (ones &* 0x20)) & ~word) | word
                guard flagged & highs == 0 else { return }
                self.index += 8
            }
        }

        /// Whether `bytes[from..<to]` is well-formed UTF-8 (no overlong forms, surrogates, or code
        /// points past U+10FFFF).
        static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
            var index = from
            while index < to {
                let lead = bytes[index]
                if lead < 0x80 {
                    index += 1
                    continue
                }
                let count: Int
                var scalar: UInt32
                let minimum: UInt32
                switch lead {
                case 0xC2...0xDF:
                    count = 1
                    scalar = UInt32(lead & 0x1F)
                    minimum = 0x80
                case 0xE0...0xEF:
                    count = 2
                    scalar = UInt32(lead & 0x0F)
                    minimum = 0x800
                case 0xF0...0xF4:
                    count = 3
                    scalar = UInt32(lead & 0x07)
                    minimum = 0x10000
                default: return false
                }
                guard index + count < to else { return false }
                for offset in 1...count {
                    let next = bytes[index + offset]
                    guard next & 0xC0 == 0x80 else { return false }
                    scalar = scalar << 6 | UInt32(next & 0x3F)
                }
                guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return false }
                index += count + 1
            }
            return true
        }

        // MARK: Building values

        mutating func value(depth: Int) throws(Error) -> JSONValue {
            guard depth < JSONParser.maximumDepth else {
                throw self.fail("nesting deeper than \(JSONParser.maximumDepth)")
            }
            guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
            switch self.bytes[self.index] {
            case UInt8(ascii: "{"): return try self.object(depth: depth)
            case UInt8(ascii: "["): return try self.array(depth: depth)
            case UInt8(ascii: "\""): return .string(try self.string())
            case UInt8(ascii: "t"):
                try self.literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try self.literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try self.literal("null")
                return .null
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
            var fields: [(key: String, value: JSONValue)] = []
            try self.walkObject { (cursor) throws(Error) in
                let key = try cursor.string()
                try cursor.colon()
                fields.append((key: key, value: try cursor.value(depth: depth + 1)))
            }
            return .object(JSONObject(fields))
        }

        mutating func array(depth: Int) throws(Error) -> JSONValue {
            var elements: [JSONValue] = []
            try self.walkArray { (cursor) throws(Error) in elements.append(try cursor.value(depth: depth + 1)) }
            return .array(elements)
        }

        // MARK: Structure (shared by building and skipping)

        /// Walks the object whose `{` is at the cursor, to just past its `}`: `member` is called
        /// for each member with the cursor on the key's opening quote, and reads the key, the
        /// colon (``colon()``) and the value.
        mutating func walkObject(_ member: (inout Cursor) throws(Error) -> Void) throws(Error) {
            self.index += 1
            self.skipWhitespace()
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
                self.index += 1
                return
            }
            while true {
                self.skipWhitespace()
                guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                    throw self.fail("expected a string key")
                }
                try member(&self)
                self.skipWhitespace()
                guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
                if self.bytes[self.index] == UInt8(ascii: ",") {
                    self.index += 1
                    continue
                }
                if self.bytes[self.index] == UInt8(ascii: "}") {
                    self.index += 1
                    return
                }
                throw self.fail("expected ',' or '}'")
            }
        }

        /// Walks the array whose `[` is at the cursor, to just past its `]`: `element` reads each
        /// element (the cursor on its first byte).
        mutating func walkArray(_ element: (inout Cursor) throws(Error) -> Void) throws(Error) {
            self.index += 1
            self.skipWhitespace()
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
                self.index += 1
                return
            }
            while true {
                self.skipWhitespace()
                try element(&self)
                self.skipWhitespace()
                guard self.index < self.bytes.count else { throw self.fail("unexpected end of input") }
                if self.bytes[self.index] == UInt8(ascii: ",") {
                    self.index += 1
                    continue
                }
                if self.bytes[self.index] == UInt8(ascii: "]") {
                    self.index += 1
                    return
                }
                throw self.fail("expected ',' or ']'")
            }
        }

        /// Moves past the `:` between a key and its value, and the whitespace around it.
        mutating func colon() throws(Error) {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else {
                throw self.fail("expected ':'")
            }
            self.index += 1
            self.skipWhitespace()
        }

        mutating func string() throws(Error) -> String {
            self.index += 1
            let start = self.index
            // Fast path: no escapes. An ASCII string (most of what providers send) cannot be invalid
            // UTF-8, so it skips `String(validating:)`, which costs a generic metadata lookup per
            // string.
            var bits: UInt8 = 0
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: self.bytes[start..<self.index])
                    self.index += 1
                    if slice.count > 15, let known = self.known.first(where: { Self.equal($0, slice) }) {
                        return known
                    }
                    if bits < 0x80 {
                        return String(decoding: slice, as: UTF8.self)
                    }
                    guard let text = String(validating: slice, as: UTF8.self) else {
                        throw Error(offset: start, reason: "invalid UTF-8 in string")
                    }
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw self.fail("control character in string") }
                bits |= byte
                self.index += 1
            }
            var scalars: [UInt8] = Array(UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]))
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: "\"") {
                    self.index += 1
                    guard let text = String(validating: scalars, as: UTF8.self) else {
                        throw Error(offset: start, reason: "invalid UTF-8 in string")
                    }
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
                    let scalar = try self.unicodeEscape()
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw self.fail("invalid escape")
                }
            }
            throw self.fail("unterminated string")
        }

        /// The scalar of a `\\u` escape (the cursor just past the `u`), joining a surrogate pair.
        mutating func unicodeEscape() throws(Error) -> Unicode.Scalar {
            var code = try self.hex4()
            if (0xD800..<0xDC00).contains(code) {
                guard self.index + 1 < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                    self.bytes[self.index + 1] == UInt8(ascii: "u")
                else { throw self.fail("unpaired surrogate") }
                self.index += 2
                let low = try self.hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw self.fail("invalid low surrogate") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(code) {
                throw self.fail("unpaired surrogate")
            }
            guard let scalar = Unicode.Scalar(code) else { throw self.fail("invalid unicode escape") }
            return scalar
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

        /// Checks the number at the cursor against the grammar and moves past it. Returns where it
        /// began and whether it is written as an integer.
        mutating func scanNumber() throws(Error) -> (start: Int, isInteger: Bool) {
            let start = self.index
            var isInteger = true
            if self.bytes[self.index] == UInt8(ascii: "-") { self.index += 1 }
            guard self.index < self.bytes.count else { throw self.fail("invalid number") }
            if self.bytes[self.index] == UInt8(ascii: "0") {
                self.index += 1
            } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(self.bytes[self.index]) {
                while self.index < self.bytes.count,
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index])
                { self.index += 1 }
            } else {
                throw self.fail("invalid number")
            }
            if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ".") {
                isInteger = false
                self.index += 1
                let digits = self.index
                while self.index < self.bytes.count,
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index])
                { self.index += 1 }
                guard self.index > digits else { throw self.fail("invalid number") }
            }
            if self.index < self.bytes.count,
                self.bytes[self.index] == UInt8(ascii: "e") || self.bytes[self.index] == UInt8(ascii: "E")
            {
                isInteger = false
                self.index += 1
                if self.index < self.bytes.count,
                    self.bytes[self.index] == UInt8(ascii: "+") || self.bytes[self.index] == UInt8(ascii: "-")
                {
                    self.index += 1
                }
                let digits = self.index
                while self.index < self.bytes.count,
                    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index])
                { self.index += 1 }
                guard self.index > digits else { throw self.fail("invalid number") }
            }
            return (start, isInteger)
        }

        mutating func number() throws(Error) -> JSONValue {
            let (start, isInteger) = try self.scanNumber()
            if isInteger, let value = Self.integer(self.bytes, start, self.index) { return .int(value) }
            let text = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                throw Error(offset: start, reason: "number out of range")
            }
            return .double(value)
        }

        /// The value of an integer the grammar has accepted (`-?digits`), or nil if it does not fit
        /// in an `Int64`.
        static func integer(_ bytes: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Int64? {
            var index = from
            let negative = bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            // Accumulated as a negative number, which reaches Int64.min.
            var value: Int64 = 0
            while index < to {
                let digit = Int64(bytes[index] &- UInt8(ascii: "0"))
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.subtractingReportingOverflow(digit)
                if overflow1 || overflow2 { return nil }
                value = next
                index += 1
            }
            if negative { return value }
            return value == .min ? nil : -value
        }
    }
}
