import FlexCore
import NIOCore

/// Server-Sent Events → ``NativeEvent``s, per the WHATWG rules the router's SSE parser follows:
/// lines end in LF, CRLF or CR; `event:` names the event, `data:` lines are joined with LF (one
/// leading space dropped); `:` lines are comments; a blank line dispatches; an event with no data
/// is not dispatched, and neither is an unfinished one at the end of the input (a cut stream).
enum TestSSE {
    static func events(_ bytes: [UInt8]) -> [NativeEvent] {
        var events: [NativeEvent] = []
        var name = ""
        var data: [UInt8] = []
        var hasData = false
        var index = 0
        while index < bytes.count {
            var end = index
            while end < bytes.count && bytes[end] != 10 && bytes[end] != 13 { end += 1 }
            guard end < bytes.count else { break }  // no line ending: unfinished, discarded
            let line = bytes[index..<end]
            index = end + 1
            if bytes[end] == 13 && index < bytes.count && bytes[index] == 10 { index += 1 }

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
            var value = colon < line.endIndex ? line[(colon + 1)...] : []
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            switch field {
            case "event": name = String(decoding: value, as: UTF8.self)
            case "data":
                if hasData { data.append(10) }
                data += value
                hasData = true
            default: break
            }
        }
        return events
    }
}
