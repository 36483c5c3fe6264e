internal import FlexJSON

/// Small ordered-object edits the adapters use to rebuild a provider's documents in the provider's
/// own field order.
extension JSONObject {
    /// Sets `key` in place when it exists; otherwise inserts it right before the first of `anchors`
    /// that is present, or at the end when none is.
    mutating func set(_ key: String, _ value: JSONValue, before anchors: [String]) {
        if self[key] != nil {
            self[key] = value
            return
        }
        for anchor in anchors {
            if let index = self.fields.firstIndex(where: { $0.key == anchor }) {
                self.fields.insert((key: key, value: value), at: index)
                return
            }
        }
        self.fields.append((key: key, value: value))
    }

    /// Sets `key` in place when it exists; otherwise inserts it right after `anchor` (or at the end
    /// when `anchor` is absent).
    mutating func set(_ key: String, _ value: JSONValue, after anchor: String) {
        if self[key] != nil {
            self[key] = value
        } else if let index = self.fields.firstIndex(where: { $0.key == anchor }) {
            self.fields.insert((key: key, value: value), at: index + 1)
        } else {
            self.fields.append((key: key, value: value))
        }
    }

    /// Copies `other`'s fields over these (in place for existing keys, appended for new ones).
    /// - Parameter skippingNulls: leave a field alone when `other` has `null` for it.
    mutating func overlay(_ other: JSONObject, skippingNulls: Bool) {
        for field in other.fields where !(skippingNulls && field.value.isNull) {
            self[field.key] = field.value
        }
    }

    /// The same fields, those named in `order` first (in that order), then the others in their own
    /// order.
    func ordered(_ order: [String]) -> JSONObject {
        var result = JSONObject()
        result.fields.reserveCapacity(self.fields.count)
        for key in order {
            if let value = self[key] { result.fields.append((key: key, value: value)) }
        }
        for field in self.fields where !order.contains(field.key) {
            result.fields.append(field)
        }
        return result
    }
}
