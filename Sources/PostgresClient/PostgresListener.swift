import Foundation
public import Logging
import Synchronization

/// Receives `NOTIFY`s on a dedicated connection and thread, as an `AsyncSequence` of events.
///
/// The connection is its own (never a pooled one) because a listening connection must stay open and idle.
/// When it drops, the listener reconnects with capped backoff and listens again, then emits `.listening` so the
/// consumer knows notifications may have been missed in the gap and should look for work itself.
public final class PostgresListener: Sendable {
    /// What the listener reports.
    public enum Event: Sendable, Hashable {
        /// LISTEN is in effect: at start and again after every reconnect. Notifications sent while the connection
        /// was down are lost, so treat this as "check for work now".
        case listening
        /// A notification arrived.
        case notification(PostgresNotification)
    }

    /// Where to connect.
    public let configuration: PostgresConfiguration
    /// The channels to LISTEN on.
    public let channels: [String]
    /// The events, for one consumer.
    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)
    private let reconnectDelayLimit: Duration

    /// Creates a listener; nothing connects until `run()`.
    public init(
        configuration: PostgresConfiguration,
        channels: [String],
        reconnectDelayLimit: Duration = .seconds(5),
        logger: Logger = Logger(label: "asynctask.postgres.listener")
    ) {
        self.configuration = configuration
        self.channels = channels
        self.reconnectDelayLimit = reconnectDelayLimit
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(1024))
    }

    /// Listens until the calling task is cancelled, reconnecting as needed; then finishes `events`.
    public func run() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                let thread = Thread { [self] in
                    self.loop()
                    done.resume()
                }
                thread.name = "pg-listener"
                thread.start()
            }
        } onCancel: {
            stopRequested.store(true, ordering: .releasing)
        }
        continuation.finish()
    }

    private func loop() {
        var delay = Duration.milliseconds(100)
        var parameters = configuration.parameters
        if !parameters.contains(where: { $0.key == "connect_timeout" }) { parameters.append(("connect_timeout", "5")) }
        while !stopRequested.load(ordering: .acquiring) {
            let connection: NativeConnection
            do {
                connection = try NativeConnection.open(parameters: parameters, description: configuration.description)
                var statements: [String] = []
                for channel in channels {
                    guard let quoted = connection.quoteIdentifier(channel) else {
                        throw PostgresError(code: .protocolViolation, message: "cannot quote channel name")
                    }
                    statements.append("LISTEN \(quoted)")
                }
                _ = try connection.executeScript(statements.joined(separator: "; "), name: "listen")
            } catch {
                logger.warning("LISTEN connection failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                sleep(for: delay)
                delay = min(delay * 2, reconnectDelayLimit)
                continue
            }
            delay = .milliseconds(100)
            continuation.yield(.listening)
            while !stopRequested.load(ordering: .acquiring) {
                guard let notifications = connection.waitForNotifications(timeoutMilliseconds: 200) else {
                    logger.warning("LISTEN connection lost; reconnecting")
                    break
                }
                for notification in notifications { continuation.yield(.notification(notification)) }
            }
            connection.close()
        }
    }

    /// Sleeps the listener thread, waking early when a stop is requested.
    private func sleep(for duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while ContinuousClock.now < deadline, !stopRequested.load(ordering: .acquiring) {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
