internal import FlexJSON

/// Builds a JSON value that satisfies a JSON Schema (the subset the providers accept for
/// structured output and tool parameters): `type` (one or a list; lower or UPPER case as
/// Gemini's OpenAPI schemas write it), `properties`/`required`, `items`/`minItems`/`maxItems`,
/// `enum`, `const`, `anyOf`/`oneOf`/`allOf`, `$ref` into `$defs`/`definitions`, `minimum`/
/// `maximum`, `minLength`, `format` (date-time, date, email, uuid), `nullable`.
struct SchemaInstance {
    let root: JSONValue
    var random: SimRandom
    /// Values left to produce: a hostile schema (deep arrays of arrays, a `$ref` cycle) gets a
    /// small instance instead of an exponential one.
    private var budget = 10_000

    static let words = [
        "alpha", "bravo", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
        "kestrel", "lumen", "meadow", "nimbus", "onyx", "prairie", "quartz", "raven", "sierra", "tundra",
    ]

    init(root: JSONValue, random: SimRandom) {
        self.root = root
        self.random = random
    }

    mutating func instance() -> JSONValue { self.value(for: self.root, depth: 0) }

    /// The smallest value of the schema's type, produced without recursing further.
    static func minimal(_ schema: JSONValue) -> JSONValue {
        if let constant = schema["const"] { return constant }
        if let first = schema["enum"]?.array?.first { return first }
        switch schema["type"]?.string?.lowercased() ?? schema["type"]?.array?.first?.string?.lowercased() {
        case "integer": return .int(max(0, schema["minimum"]?.int ?? 0))
        case "number": return .double(max(0, schema["minimum"]?.number ?? 0))
        case "boolean": return .bool(false)
        case "array": return .array([])
        case "object": return .object([:])
        case "null": return .null
        default: return .string("")
        }
    }

    private func resolve(_ schema: JSONValue) -> JSONValue {
        guard let ref = schema["$ref"]?.string, ref.hasPrefix("#/") else { return schema }
        var node: JSONValue? = self.root
        for part in ref.dropFirst(2).split(separator: "/") {
            node = node?[String(part).replacingEscapes()]
        }
        return node ?? [:]
    }

    private mutating func value(for rawSchema: JSONValue, depth: Int) -> JSONValue {
        let schema = self.resolve(rawSchema)
        guard schema.object != nil else { return .string("x") }
        guard depth < 12, self.budget > 0 else { return Self.minimal(schema) }
        self.budget -= 1
        if let constant = schema["const"] { return constant }
        if let choices = schema["enum"]?.array, !choices.isEmpty {
            return choices[Int(self.random.next() % UInt64(choices.count))]
        }
        for key in ["anyOf", "oneOf"] {
            if let options = schema[key]?.array, !options.isEmpty {
                let nonNull = options.first { $0["type"]?.string?.lowercased() != "null" } ?? options[0]
                return self.value(for: nonNull, depth: depth + 1)
            }
        }
        if let all = schema["allOf"]?.array, let first = all.first {
            return self.value(for: first, depth: depth + 1)
        }
        var type = schema["type"]?.string?.lowercased()
        if let types = schema["type"]?.array {
            type = types.compactMap { $0.string?.lowercased() }.first { $0 != "null" } ?? "null"
        }
        if type == nil {
            if schema["properties"] != nil {
                type = "object"
            } else if schema["items"] != nil {
                type = "array"
            } else {
                type = "string"
            }
        }
        switch type {
        case "object":
            var object = JSONObject()
            for field in schema["properties"]?.object?.fields ?? [] {
                object[field.key] = self.value(for: field.value, depth: depth + 1)
            }
            for name in schema["required"]?.array?.compactMap(\.string) ?? [] where object[name] == nil {
                object[name] = .string(Self.words[Int(self.random.next() % 20)])
            }
            return .object(object)
        case "array":
            let minimum = Int(min(64, max(0, schema["minItems"]?.int ?? schema["min_items"]?.int ?? 1)))
            let maximum = Int(
                min(
                    64,
                    max(Int64(minimum), schema["maxItems"]?.int ?? schema["max_items"]?.int ?? Int64(max(minimum, 3)))
                )
            )
            let count = minimum + Int(self.random.next() % UInt64(max(1, maximum - minimum + 1)))
            let items = schema["items"] ?? ["type": "string"]
            return .array((0..<min(count, 64)).map { _ in self.value(for: items, depth: depth + 1) })
        case "integer":
            // Clamped so that no schema can make the arithmetic overflow.
            let low = min(max(schema["minimum"]?.int ?? 0, -1_000_000_000_000), 1_000_000_000_000)
            let high = min(max(low, schema["maximum"]?.int ?? low + 100), low + 1_000_000_000_000)
            return .int(low + Int64(self.random.next() % UInt64(high - low + 1)))
        case "number":
            let low = schema["minimum"]?.number ?? 0
            let high = max(low, schema["maximum"]?.number ?? low + 100)
            return .double(((low + (high - low) * self.random.unit()) * 100).rounded() / 100)
        case "boolean":
            return .bool(self.random.next() & 1 == 1)
        case "null":
            return .null
        default:
            switch schema["format"]?.string {
            case "date-time": return "2026-11-26T12:00:00Z"
            case "date": return "2026-11-26"
            case "email": return "user@example.com"
            case "uuid": return "123e4567-e89b-42d3-a456-426614174000"
            default:
                var text = Self.words[Int(self.random.next() % 20)]
                let minimum = Int(min(4096, max(0, schema["minLength"]?.int ?? 0)))
                while text.count < minimum { text += " " + Self.words[Int(self.random.next() % 20)] }
                if let maximum = schema["maxLength"]?.int, maximum >= 0, text.count > maximum {
                    text = String(text.prefix(Int(maximum)))
                }
                return .string(text)
            }
        }
    }
}

extension String {
    /// JSON Pointer unescaping (`~1` is `/`, `~0` is `~`).
    func replacingEscapes() -> String {
        guard self.contains("~") else { return self }
        var out = ""
        var iterator = self.makeIterator()
        while let c = iterator.next() {
            if c == "~", let n = iterator.next() {
                out.append(n == "1" ? "/" : n == "0" ? "~" : n)
            } else {
                out.append(c)
            }
        }
        return out
    }
}
