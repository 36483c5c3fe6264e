internal import FlexCodec
internal import Synchronization

/// The service's model listing, kept for a few minutes: what `GET .../models` answers, and which
/// provider a model of the single base URL belongs to.
final class ModelDirectory: Sendable {
    private let service: any InferenceService
    private let cache = Mutex<Cached?>(nil)
    private static let lifetime = Duration.seconds(300)

    private struct Cached {
        var models: [ModelListing]
        var owners: [String: Provider]
        var until: ContinuousClock.Instant
    }

    init(service: any InferenceService) {
        self.service = service
    }

    func models() -> [ModelListing] { self.current().models }

    /// The provider that lists `model`, or nil for a model the service does not list (the router
    /// then answers `unknown_model`).
    func owner(of model: String) -> Provider? { self.current().owners[model] }

    private func current() -> Cached {
        let now = ContinuousClock.now
        if let cached = self.cache.withLock({ $0 }), cached.until > now { return cached }
        let models = self.service.models()
        var owners: [String: Provider] = [:]
        for model in models where owners[model.id] == nil { owners[model.id] = model.provider }
        let fresh = Cached(models: models, owners: owners, until: now + Self.lifetime)
        self.cache.withLock { $0 = fresh }
        return fresh
    }
}
