internal import CFlexProto
internal import CProtobufC
internal import NIOCore

/// A Swift value type with a protobuf-c message struct behind it.
///
/// `init(c:)` reads an unpacked C message (whose memory belongs to a ``ProtobufArena`` and is gone
/// after the next reset, so everything is copied out); `fill(_:arena:)` writes one whose strings,
/// bytes and sub-messages are allocated in the arena.
protocol CMessageConvertible {
    associatedtype CMessage
    /// The protobuf message name, for errors.
    static var messageName: String { get }
    /// The generated `..._init` function: sets the descriptor and proto3 defaults.
    static var cInit: (UnsafeMutablePointer<CMessage>?) -> Void { get }

    init(c: UnsafePointer<CMessage>) throws(FlexCodecError)
    func fill(_ c: UnsafeMutablePointer<CMessage>, arena: ProtobufArena) throws(FlexCodecError)
}

/// A message that travels as a frame payload on its own.
protocol CTopLevelMessage: CMessageConvertible {
    /// The generated `..._unpack` function.
    static var cUnpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<CMessage>?
    { get }
}

extension CMessageConvertible {
    /// A new C message in `arena`, filled from `self`.
    func makeC(arena: ProtobufArena) throws(FlexCodecError) -> UnsafeMutablePointer<CMessage> {
        let c = try arena.allocate(CMessage.self)
        Self.cInit(c)
        try self.fill(c, arena: arena)
        return c
    }

    /// Reads an optional sub-message.
    static func decode(_ c: UnsafeMutablePointer<CMessage>?) throws(FlexCodecError) -> Self? {
        guard let c else { return nil }
        return try Self(c: c)
    }

    /// Reads a repeated sub-message field.
    static func decodeArray(
        _ count: Int,
        _ items: UnsafeMutablePointer<UnsafeMutablePointer<CMessage>?>?
    ) throws(FlexCodecError) -> [Self] {
        guard count > 0, let items else { return [] }
        var result: [Self] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            guard let item = items[index] else {
                throw FlexCodecError.invalidProtobuf(Self.messageName)
            }
            result.append(try Self(c: item))
        }
        return result
    }
}

extension Array {
    /// Writes a repeated sub-message field: returns the count and the arena array of pointers.
    func makeCArray<C>(
        arena: ProtobufArena
    ) throws(FlexCodecError) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<C>?>?)
    where Element: CMessageConvertible, Element.CMessage == C {
        guard !self.isEmpty else { return (0, nil) }
        let items = try arena.allocateArray(of: UnsafeMutablePointer<C>?.self, count: self.count)
        for (index, element) in self.enumerated() {
            items[index] = try element.makeC(arena: arena)
        }
        return (self.count, items)
    }
}

// MARK: - Field helpers

/// Shared by every conversion: strings, bytes, enums, maps and repeated strings.
enum CField {
    static let allocator = ByteBufferAllocator()

    /// A protobuf-c string field (never NULL after unpack, but tolerate it) as a validated String.
    @inline(__always)
    static func string(_ pointer: UnsafeMutablePointer<CChar>?, _ field: StaticString) throws(FlexCodecError) -> String
    {
        guard let pointer, pointer.pointee != 0 else { return "" }
        guard let string = String(validatingCString: pointer) else {
            throw FlexCodecError.invalidUTF8("\(field)")
        }
        return string
    }

    /// Sets a string field, leaving the generated default (protobuf-c's empty string) for "".
    @inline(__always)
    static func setString(
        _ target: inout UnsafeMutablePointer<CChar>?,
        _ value: String,
        _ field: StaticString,
        arena: ProtobufArena
    ) throws(FlexCodecError) {
        if !value.isEmpty { target = try arena.copy(value, field: field) }
    }

    static func bytes(_ data: ProtobufCBinaryData) -> ByteBuffer {
        guard data.len > 0, let base = data.data else { return ByteBuffer() }
        return Self.allocator.buffer(bytes: UnsafeRawBufferPointer(start: base, count: data.len))
    }

    static func setBytes(_ value: ByteBuffer, arena: ProtobufArena) throws(FlexCodecError) -> ProtobufCBinaryData {
        try value.withUnsafeReadableBytes { bytes throws(FlexCodecError) in try arena.copy(bytes) }
    }

    /// An enum field whose zero value is a real value.
    @inline(__always)
    static func enumValue<E: RawRepresentable<Int32>>(_ raw: UInt32, _ type: E.Type) throws(FlexCodecError) -> E {
        let value = Int32(bitPattern: raw)
        guard let result = E(rawValue: value) else { throw FlexCodecError.unknownEnumValue("\(E.self)", value) }
        return result
    }

    /// An enum field whose zero value means "unspecified" (read as nil).
    @inline(__always)
    static func optionalEnum<E: RawRepresentable<Int32>>(_ raw: UInt32, _ type: E.Type) throws(FlexCodecError) -> E? {
        if raw == 0 { return nil }
        return try Self.enumValue(raw, E.self)
    }

    static func rawEnum<E: RawRepresentable<Int32>>(_ value: E?) -> UInt32 {
        guard let value else { return 0 }
        return UInt32(bitPattern: value.rawValue)
    }

    /// A `map<string, string>` field: protoc-c's array of entry structs.
    static func map<Entry>(
        _ count: Int,
        _ entries: UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>?,
        _ field: StaticString,
        _ keyValue: (UnsafeMutablePointer<Entry>) -> (UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<CChar>?)
    ) throws(FlexCodecError) -> [String: String] {
        guard count > 0, let entries else { return [:] }
        var result: [String: String] = [:]
        result.reserveCapacity(count)
        for index in 0..<count {
            guard let entry = entries[index] else { throw FlexCodecError.invalidProtobuf("\(field) entry") }
            let (key, value) = keyValue(entry)
            result[try Self.string(key, field)] = try Self.string(value, field)
        }
        return result
    }

    /// Writes a `map<string, string>` field with keys sorted, so equal maps encode to equal bytes.
    static func setMap<Entry>(
        _ map: [String: String],
        _ field: StaticString,
        arena: ProtobufArena,
        initEntry: (UnsafeMutablePointer<Entry>?) -> Void,
        setEntry: (UnsafeMutablePointer<Entry>, UnsafeMutablePointer<CChar>, UnsafeMutablePointer<CChar>) -> Void
    ) throws(FlexCodecError) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>?) {
        guard !map.isEmpty else { return (0, nil) }
        let entries = try arena.allocateArray(of: UnsafeMutablePointer<Entry>?.self, count: map.count)
        for (index, key) in map.keys.sorted().enumerated() {
            let entry = try arena.allocate(Entry.self)
            initEntry(entry)
            setEntry(entry, try arena.copy(key, field: field), try arena.copy(map[key]!, field: field))
            entries[index] = entry
        }
        return (map.count, entries)
    }

    /// A `repeated string` field.
    static func strings(
        _ count: Int,
        _ items: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ field: StaticString
    ) throws(FlexCodecError) -> [String] {
        guard count > 0, let items else { return [] }
        var result: [String] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(try Self.string(items[index], field))
        }
        return result
    }

    static func setStrings(
        _ strings: [String],
        _ field: StaticString,
        arena: ProtobufArena
    ) throws(FlexCodecError) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        guard !strings.isEmpty else { return (0, nil) }
        let items = try arena.allocateArray(of: UnsafeMutablePointer<CChar>?.self, count: strings.count)
        for (index, string) in strings.enumerated() {
            items[index] = try arena.copy(string, field: field)
        }
        return (strings.count, items)
    }

    /// Microseconds on the wire ↔ an optional Duration (0 means absent).
    static func duration(microseconds: UInt64) -> Duration? {
        microseconds == 0 ? nil : .microseconds(Int64(clamping: microseconds))
    }

    static func microseconds(_ duration: Duration?) -> UInt64 {
        guard let duration, duration > .zero else { return 0 }
        let micros = duration.microsecondsRoundedUp
        return micros == .max ? .max : UInt64(micros)
    }
}
