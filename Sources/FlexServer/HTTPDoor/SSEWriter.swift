internal import FlexCodec
internal import NIOCore

/// Writes a provider's events back as Server-Sent Events, as the provider sent them: `event:` when
/// the event had a type, its data one `data:` line per line, a blank line.
enum SSEWriter {
    static func write(_ event: NativeEvent, into buffer: inout ByteBuffer) {
        if !event.event.isEmpty {
            buffer.writeStaticString("event: ")
            buffer.writeString(event.event)
            buffer.writeStaticString("\n")
        }
        // Line by line without building an array of the lines.
        let data = event.data.readableBytesView
        var lineStart = data.startIndex
        while true {
            let lineEnd = data[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? data.endIndex
            buffer.writeStaticString("data: ")
            buffer.writeBytes(data[lineStart..<lineEnd])
            buffer.writeStaticString("\n")
            guard lineEnd < data.endIndex else { break }
            lineStart = lineEnd + 1
        }
        buffer.writeStaticString("\n")
    }

    /// The comment that ends a flexd stream after the provider's last event: `: flexd-savings {...}`.
    /// SSE readers (every provider SDK's) skip comment lines.
    static func writeSavings(_ compactJSON: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(": flexd-savings ")
        buffer.writeString(compactJSON)
        buffer.writeStaticString("\n\n")
    }
}
