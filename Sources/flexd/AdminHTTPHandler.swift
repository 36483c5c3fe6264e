import NIOCore
import NIOHTTP1

/// Answers one admin connection's requests, each with what `answer` gives for its head (the body,
/// if any, is ignored); closes the connection after a request that does not keep it alive.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let answer: @Sendable (HTTPRequestHead) -> (HTTPResponseStatus, String, ByteBuffer)
    private var head: HTTPRequestHead?

    init(answer: @escaping @Sendable (HTTPRequestHead) -> (HTTPResponseStatus, String, ByteBuffer)) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            let (status, contentType, body) = self.answer(head)
            var headers = HTTPHeaders([("content-type", contentType), ("content-length", "\(body.readableBytes)")])
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                promise: nil
            )
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if head.isKeepAlive {
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
