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
        for line in event.data.readableBytesView.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        {
            buffer.writeStaticString("data: ")
            buffer.writeBytes(line)
            buffer.writeStaticString("\n")
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
