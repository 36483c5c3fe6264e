internal import FlexCatalog
internal import FlexCore
internal import FlexJSON

/// Counts input tokens the way a simulator can: about four UTF-8 bytes per token for text, a few
/// tokens of overhead per message, and each provider's published formula for images (dimensions
/// read from the PNG/JPEG/GIF header of inline data; 1024x1024 assumed when they cannot be read).
enum TokenEstimator {
    static func text(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

    /// Text tokens of every string in `value`, skipping structural keys and binary data.
    static func strings(in value: JSONValue) -> Int {
        switch value {
        case .string(let s): return self.text(s)
        case .array(let items): return items.reduce(0) { $0 + self.strings(in: $1) }
        case .object(let object):
            var total = 0
            for field in object.fields where !skippedKeys.contains(field.key) {
                total += self.strings(in: field.value)
            }
            return total
        case .int, .double, .bool: return 1
        case .null: return 0
        }
    }

    static let skippedKeys: Set<String> = [
        "type", "role", "data", "cache_control", "detail", "mime_type", "mimeType", "media_type",
        "image_url", "url", "file_id", "signature", "thoughtSignature", "id", "call_id", "tool_use_id",
    ]

    // MARK: Images

    /// Tokens for one image, by provider.
    static func image(provider: Provider, width: Int, height: Int, lowDetail: Bool = false) -> Int {
        switch provider {
        case .openAI:
            if lowDetail { return 85 }
            var w = Double(width)
            var h = Double(height)
            let fit = min(1, 2048 / max(w, h))
            w *= fit
            h *= fit
            let shortest = min(w, h)
            if shortest > 768 {
                let s = 768 / shortest
                w *= s
                h *= s
            }
            let tiles = Int((w / 512).rounded(.up)) * Int((h / 512).rounded(.up))
            return 85 + 170 * tiles
        case .anthropic:
            var w = Double(width)
            var h = Double(height)
            let fit = min(1, 1568 / max(w, h))
            w *= fit
            h *= fit
            return Int((w * h / 750).rounded(.up))
        case .gemini:
            if width <= 384 && height <= 384 { return 258 }
            return 258 * Int((Double(width) / 768).rounded(.up)) * Int((Double(height) / 768).rounded(.up))
        }
    }

    /// Width and height from base64 image data (a `data:` URL or bare base64), if readable.
    static func dimensions(base64 text: String) -> (Int, Int)? {
        var payload = Substring(text)
        if payload.hasPrefix("data:"), let comma = payload.firstIndex(of: ",") {
            payload = payload[payload.index(after: comma)...]
        }
        let bytes = Base64.decode(payload.prefix(87_384))  // the first 64 KiB is enough for any header
        if bytes.count >= 24, bytes[0] == 0x89, bytes[1] == 0x50, bytes[2] == 0x4E, bytes[3] == 0x47 {
            let w = Int(bytes[16]) << 24 | Int(bytes[17]) << 16 | Int(bytes[18]) << 8 | Int(bytes[19])
            let h = Int(bytes[20]) << 24 | Int(bytes[21]) << 16 | Int(bytes[22]) << 8 | Int(bytes[23])
            return w > 0 && h > 0 ? (w, h) : nil
        }
        if bytes.count >= 10, bytes[0] == 0x47, bytes[1] == 0x49, bytes[2] == 0x46 {
            return (Int(bytes[6]) | Int(bytes[7]) << 8, Int(bytes[8]) | Int(bytes[9]) << 8)
        }
        if bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 {
            var index = 2
            while index + 9 < bytes.count {
                guard bytes[index] == 0xFF else { return nil }
                let marker = bytes[index + 1]
                let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
                if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                    let h = Int(bytes[index + 5]) << 8 | Int(bytes[index + 6])
                    let w = Int(bytes[index + 7]) << 8 | Int(bytes[index + 8])
                    return w > 0 && h > 0 ? (w, h) : nil
                }
                index += 2 + length
            }
        }
        return nil
    }

    static func image(provider: Provider, base64 text: String?, lowDetail: Bool = false) -> Int {
        let (w, h) = text.flatMap { self.dimensions(base64: $0) } ?? (1024, 1024)
        return self.image(provider: provider, width: w, height: h, lowDetail: lowDetail)
    }
}

/// Just enough base64 decoding for image headers (standard and URL-safe alphabets, padding optional).
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="): return out
            default: continue
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((accumulator >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}
