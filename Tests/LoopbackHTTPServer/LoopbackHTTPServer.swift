import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A scripted HTTP/1.1 server on 127.0.0.1 for tests: real sockets, real HTTP, optional TLS.
///
/// Behaviour is chosen by the request path (see ``ScriptedHTTPHandler``):
/// `/status/{code}`, `/echo`, `/hang`, `/delay/{ms}`, `/drip`, `/big`, `/redirect`, `/rpc`.
public final class LoopbackHTTPServer: Sendable {
    /// TLS files of the server (PEM paths), and optionally the CA that client certificates must chain to.
    public struct TLSFiles: Sendable {
        public var certificateFile: String
        public var keyFile: String
        public var clientCAFile: String?

        public init(certificateFile: String, keyFile: String, clientCAFile: String? = nil) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.clientCAFile = clientCAFile
        }
    }

    /// The port it listens on.
    public let port: Int
    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    public let baseURL: String
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    let counters: ServerCounters

    private init(port: Int, baseURL: String, channel: any Channel, group: MultiThreadedEventLoopGroup, counters: ServerCounters) {
        self.port = port
        self.baseURL = baseURL
        self.channel = channel
        self.group = group
        self.counters = counters
    }

    /// Connections accepted so far.
    public var connectionsAccepted: Int { counters.accepted.load(ordering: .relaxed) }
    /// Requests whose head was received so far.
    public var requestsReceived: Int { counters.requests.load(ordering: .relaxed) }
    /// Connections currently open.
    public var connectionsOpen: Int { counters.open.load(ordering: .relaxed) }

    /// Starts a scripted HTTP server (HTTPS when `tls` is given) on an ephemeral loopback port.
    public static func start(tls: TLSFiles? = nil, threads: Int = 1) async throws -> LoopbackHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let counters = ServerCounters()
        let sslContext: NIOSSLContext?
        if let tls {
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem))
            )
            if let clientCA = tls.clientCAFile {
                configuration.certificateVerification = .noHostnameVerification
                configuration.trustRoots = .file(clientCA)
            }
            sslContext = try NIOSSLContext(configuration: configuration)
        } else {
            sslContext = nil
        }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                counters.accepted.add(1, ordering: .relaxed)
                counters.open.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in counters.open.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ScriptedHTTPHandler(counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress?.port ?? 0
        let scheme = tls == nil ? "http" : "https"
        return LoopbackHTTPServer(port: port, baseURL: "\(scheme)://127.0.0.1:\(port)", channel: channel, group: group, counters: counters)
    }

    /// Closes the listener and every connection, and stops the server's threads.
    public func stop() async throws {
        try? await channel.close()
        try await group.shutdownGracefully()
    }

    /// Starts a plain TCP server that answers anything with `reply` and closes: for "not HTTP" tests.
    public static func startRaw(reply: [UInt8]) async throws -> LoopbackHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let counters = ServerCounters()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counters.accepted.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawReplyHandler(reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress?.port ?? 0
        return LoopbackHTTPServer(port: port, baseURL: "http://127.0.0.1:\(port)", channel: channel, group: group, counters: counters)
    }
}

/// Counters shared by a server's connections.
final class ServerCounters: Sendable {
    let accepted = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let open = Atomic<Int>(0)
}

/// Writes a fixed reply to the first bytes received, then closes.
final class RawReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let reply: [UInt8]
    private var replied = false

    init(reply: [UInt8]) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !replied else { return }
        replied = true
        let buffer = context.channel.allocator.buffer(bytes: reply)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
