import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Runs before every route: asks for the read token where one is configured, and turns "the database cannot be
/// reached" into a page (or JSON) that says so and what the node still knows, instead of an empty 500.
struct AdminGuard: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// Probes and scrapers must work without credentials and whatever the database's state.
    static let openPaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    let server: AdminServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let isOpen = Self.openPaths.contains(path)
        let isAPI = path.hasPrefix("/api/")
        if !isOpen && !server.readAccess.allows(authorization: request.headers[.authorization]) {
            let message = "this node asks for its read token (admin.read_token) to show its pages"
            return isAPI
                ? Response(
                    status: .unauthorized,
                    headers: [.contentType: "application/json", .wwwAuthenticate: #"Bearer realm="asynctask-admin""#],
                    body: .init(
                        byteBuffer: ByteBuffer(string: #"{"error":"a valid read token is required (Authorization: Bearer <admin.read_token>)"}"#)))
                : AdminServer.html(
                    server.page(
                        "Sign in", DashboardPage.message(message + ": your browser asks for it (any user name, the token as password).", alert: true)),
                    status: .unauthorized, extraHeaders: [.wwwAuthenticate: #"Basic realm="asynctask-admin", charset="UTF-8""#])
        }
        do {
            return try await next(request, context)
        } catch let unreachable as AdminDatabase.Unreachable {
            if isAPI {
                return try AdminServer.json(server.outageReport(unreachable.reachability), status: .serviceUnavailable)
            }
            return AdminServer.html(
                server.page("Database unreachable", refresh: 5, DashboardPage.outage(server.outageReport(unreachable.reachability))),
                status: .serviceUnavailable)
        }
    }
}
