internal import Foundation

/// Where flexload writes its JSON report and SVG chart.
public enum ReportFile {
    /// Writes `text` to `path`: atomically (a temporary file renamed over it) when `path` is a
    /// regular file or does not exist yet, so a reader never sees half a report; in place for
    /// anything else — `/dev/null`, `/dev/stdout`, a FIFO, a symbolic link — which a rename would
    /// replace with a regular file (run as root, `--json /dev/null` would otherwise break the
    /// machine's `/dev/null`).
    public static func write(_ text: String, to path: String) throws {
        let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
        try text.write(toFile: path, atomically: type == nil || type == .typeRegular, encoding: .utf8)
    }
}
