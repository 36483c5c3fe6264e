import FlexCore
import NIOCore

/// Splits a Server-Sent Events body into events as the SSE specification reads them: lines end in
/// CRLF, LF or CR (Gemini sends CRLF); `event:` names the event, `data:` lines are joined with
/// `\n`, `:` lines are comments; an event is dispatched at a blank line, and a last event without
/// one (a cut stream) is dropped, as a browser drops it.
enum SSEDecoder {
    static func events(_ bytes: [UInt8]) -> [NativeEvent] {
        var events: [NativeEvent] = []
        var name = ""
        var data: [UInt8] = []
        var hasData = false
        var index = 0
        while index < bytes.count {
            var end = index
            while end < bytes.count, bytes[end] != 10, bytes[end] != 13 { end += 1 }
            guard end < bytes.count else { break }  // an unterminated last line
            let line = bytes[index..<end]
            index = end + 1
            if bytes[end] == 13, index < bytes.count, bytes[index] == 10 { index += 1 }

            if line.isEmpty {
                if hasData { events.append(NativeEvent(event: name, data: ByteBuffer(bytes: data))) }
                name = ""
                data = []
                hasData = false
                continue
            }
            if line.first == UInt8(ascii: ":") { continue }
            let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
            let field = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
            var value = colon < line.endIndex ? line[(colon + 1)...] : line[line.endIndex...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            switch field {
            case "event":
                name = String(decoding: value, as: UTF8.self)
            case "data":
                if hasData { data.append(10) }
                data += value
                hasData = true
            default:
                break
            }
        }
        return events
    }
}
