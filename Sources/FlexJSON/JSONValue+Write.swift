public import NIOCore

extension JSONValue {
    /// Appends compact JSON (no spaces, keys in order) to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .null: buffer.writeStaticString("null")
        case .bool(let value): if value { buffer.writeStaticString("true") } else { buffer.writeStaticString("false") }
        case .int(let value): buffer.writeString(String(value))
        case .double(let value):
            if value.isFinite {
                if value.rounded() == value && abs(value) < 1e15 {
                    buffer.writeString(String(Int64(value)))
                    buffer.writeStaticString(".0")
                } else {
                    buffer.writeString(String(value))
                }
            } else {
                buffer.writeStaticString("null")
            }
        case .string(let value): Self.writeString(value, into: &buffer)
        case .array(let elements):
            buffer.writeInteger(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                element.write(into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let object):
            buffer.writeInteger(UInt8(ascii: "{"))
            for (index, field) in object.fields.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                Self.writeString(field.key, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                field.value.write(into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// Adds `members` (JSON object members as text, comma-separated, e.g. runs that
    /// ``JSONParser/splitObject(_:keeping:)`` found) to the compact object that `buffer` ends with,
    /// after its own members: how a body passed on with a few members rewritten is put back
    /// together. `buffer` must end with the `}` of an object ``write(into:)`` wrote.
    public static func appendMembers(_ members: UnsafeRawBufferPointer, toObjectIn buffer: inout ByteBuffer) {
        guard !members.isEmpty else { return }
        let end = buffer.writerIndex - 1
        precondition(
            buffer.readableBytes >= 2 && buffer.getInteger(at: end) == UInt8(ascii: "}"),
            "appendMembers needs a buffer that ends with an object"
        )
        let empty = buffer.getInteger(at: end - 1) == UInt8(ascii: "{")
        buffer.moveWriterIndex(to: end)
        if !empty { buffer.writeInteger(UInt8(ascii: ",")) }
        buffer.writeBytes(members)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// The compact JSON text.
    public var jsonString: String {
        var buffer = ByteBuffer()
        self.write(into: &buffer)
        return String(buffer: buffer)
    }

    /// Writes a JSON string literal with the escapes RFC 8259 requires.
    public static func writeString(_ value: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var needsEscape = false
        for byte in value.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscape = true
            break
        }
        if !needsEscape {
            buffer.writeString(value)
        } else {
            for byte in value.utf8 {
                switch byte {
                case 0x22: buffer.writeStaticString("\\\"")
                case 0x5C: buffer.writeStaticString("\\\\")
                case 0x0A: buffer.writeStaticString("\\n")
                case 0x0D: buffer.writeStaticString("\\r")
                case 0x09: buffer.writeStaticString("\\t")
                case 0..<0x20:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    buffer.writeStaticString("\\u00")
                    buffer.writeInteger(hex[Int(byte >> 4)])
                    buffer.writeInteger(hex[Int(byte & 0xF)])
                default: buffer.writeInteger(byte)
                }
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
