internal import NIOCore

/// One buffer the binary door encodes frame after frame into (``ServerConnectionHandler``).
///
/// The ``WriteCoalescingHandler`` ahead in the pipeline copies each small write out, so once a
/// frame is written its buffer is unique again and clearing it for the next frame allocates
/// nothing. A frame that is kept (parked for its window, or passed through whole) keeps the
/// buffer, and the next frame gets a new one: correct in every case, free in the common one.
struct ReusableBuffer {
    /// A buffer grown past this by a large frame is dropped rather than kept for the connection's
    /// life.
    static let capacityLimit = 16 * 1024

    private var buffer = ByteBuffer()

    /// The buffer, empty, out of its place: the caller's copy is then its only reference (unless a
    /// frame written from it is still held), until ``put(_:)`` returns it.
    mutating func take(_ allocator: ByteBufferAllocator?) -> ByteBuffer {
        var bytes = ByteBuffer()
        swap(&bytes, &self.buffer)
        guard bytes.capacity > 0, bytes.capacity <= Self.capacityLimit else {
            return allocator?.buffer(capacity: 256) ?? ByteBuffer()
        }
        bytes.clear()
        return bytes
    }

    mutating func put(_ bytes: ByteBuffer) {
        self.buffer = bytes
    }
}
