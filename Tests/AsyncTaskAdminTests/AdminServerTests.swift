import AsyncTask
import AsyncTaskAdmin
import AsyncTaskCore
import CoreMetrics
import Foundation
import PostgresClient
import Prometheus
import TestSupport
import Testing

@Suite("admin HTTP server against a real database")
struct AdminServerTests {
    @Test("/healthz is ok; /readyz is ready, then 503 once the node drains, and 503 while migrations are missing")
    func healthAndReadiness() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            try await AdminHarness.with(database: database) { admin in
                let health = try await admin.request("/healthz")
                #expect(health.status == 200 && health.body == "ok\n")
                let ready = try await admin.request("/readyz")
                #expect(ready.status == 200, "\(ready.body)")
                #expect((ready.json as? [String: Any])?["ready"] as? Bool == true)
                admin.node.drain()
                let draining = try await admin.request("/readyz")
                #expect(draining.status == 503)
                #expect((draining.json as? [String: Any])?["draining"] as? Bool == true)
                #expect(try await admin.request("/healthz").status == 200, "a draining node is still alive")
            }
        }
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator(migrations: [Schema.migrations[0]]).migrate(on: $0) }
            try await AdminHarness.with(database: database) { admin in
                let reply = try await admin.request("/readyz")
                #expect(reply.status == 503)
                #expect(((reply.json as? [String: Any])?["migrations"] as? String)?.hasPrefix("pending") == true, "\(reply.body)")
            }
        }
    }

    @Test("/metrics is valid Prometheus exposition, every name asynctask_*, with queue depth per target from the database")
    func metrics() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                _ = try await Seed.enqueue(5, target: "OrderClient", on: connection)
                _ = try await Seed.enqueue(2, target: "Mailer \"quoted\"", on: connection)
                // Ordered keys: k1's head runs, its two later attempts are parked; k2's failed head blocks k2.
                _ = try await Seed.scalar(
                    """
                    WITH i AS (INSERT INTO async_task_attempts (target, method_name, method_args, ordering_key)
                               SELECT 'Ledger', 'post', '{}', 'k1' FROM generate_series(1, 3) RETURNING 1) SELECT count(*) FROM i
                    """, on: connection)
                _ = try await Seed.scalar(
                    """
                    WITH i AS (INSERT INTO async_task_attempts (target, method_name, method_args, ordering_key, status, completed_at, key_blocked)
                               VALUES ('Ledger', 'post', '{}', 'k2', 'failed', now(), true) RETURNING 1) SELECT count(*) FROM i
                    """, on: connection)
            }
            let registry = PrometheusCollectorRegistry()
            // What the worker's swift-metrics calls turn into through the factory the worker command bootstraps.
            let factory = PrometheusMetricsFactory(registry: registry)
            factory.makeCounter(label: "asynctask_attempts_succeeded_total", dimensions: []).increment(by: 3)
            factory.makeTimer(label: "asynctask_call_duration_seconds", dimensions: [("target", "OrderClient")]).recordNanoseconds(12_000_000)
            try await AdminHarness.with(database: database, registry: registry) { admin in
                let reply = try await admin.request("/metrics")
                #expect(reply.status == 200)
                #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
                let samples = try PrometheusExposition.parse(reply.body)
                #expect(!samples.isEmpty)
                #expect(samples.allSatisfy { $0.name.hasPrefix("asynctask_") }, "\(samples.map(\.name).filter { !$0.hasPrefix("asynctask_") })")
                func value(_ name: String, _ target: String? = nil) -> Double? {
                    samples.first { $0.name == name && $0.labels["target"] == target }?.value
                }
                #expect(value("asynctask_queue_pending", "OrderClient") == 5)
                #expect(value("asynctask_queue_due", "OrderClient") == 5)
                #expect(value("asynctask_queue_pending", "Mailer \"quoted\"") == 2)
                #expect(value("asynctask_queue_lag_seconds", "OrderClient").map { $0 >= 0 } == true)
                #expect(value("asynctask_queue_pending", "Ledger") == 3)
                #expect(value("asynctask_queue_due", "Ledger") == 1)
                #expect(value("asynctask_queue_waiting_for_key", "Ledger") == 2)
                #expect(value("asynctask_queue_waiting_for_key", "OrderClient") == 0)
                #expect(value("asynctask_queue_key_wait_seconds", "Ledger").map { $0 >= 0 && $0 < 600 } == true)
                #expect(value("asynctask_keys_blocked", "Ledger") == 1)
                #expect(value("asynctask_keys_blocked", "OrderClient") == 0)
                // The blocked head finished within five minutes: the observed rate counts it (1 / 300 s).
                #expect(value("asynctask_target_rate_per_second", "Ledger").map { abs($0 - 1.0 / 300) < 1e-9 } == true)
                #expect(value("asynctask_attempts_succeeded_total") == 3)
                #expect(samples.contains { $0.name == "asynctask_call_duration_seconds_count" && $0.value == 1 })
                #expect(value("asynctask_nodes_live") == 0)
                // Work that is gone drops to 0 rather than keeping its last value.
                try await database.withConnection { connection in
                    _ = try await Seed.scalar(
                        "WITH d AS (DELETE FROM async_task_attempts WHERE target = 'OrderClient' RETURNING 1) SELECT count(*) FROM d", on: connection)
                }
                let later = try PrometheusExposition.parse(try await admin.request("/metrics").body)
                #expect(later.first { $0.name == "asynctask_queue_pending" && $0.labels["target"] == "OrderClient" }?.value == 0)
            }
        }
    }

    @Test("JSON API: attempts by filter and id (never their arguments), stats and nodes match the database")
    func jsonAPI() async throws {
        try await TestDatabase.with { database in
            let (ids, nodeID): ([Int64], UUID) = try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                let ids = try await Seed.enqueue(6, target: "OrderClient", on: connection)
                for id in ids.prefix(2) { try await AttemptActions().fail(id, reason: "HTTP 500: boom", on: connection) }
                try await AttemptActions().expire(ids[2], on: connection)
                let nodeID = UUID()
                _ = try await Seed.scalar(
                    """
                    WITH n AS (INSERT INTO async_task_nodes (id, hostname, pid, version, concurrency, targets, in_flight)
                               VALUES ($1, 'host-a', 42, '0.1.0', 64, '{OrderClient}', 3) RETURNING 1) SELECT count(*) FROM n
                    """, [nodeID], on: connection)
                return (ids, nodeID)
            }
            try await AdminHarness.with(database: database) { admin in
                let failed = try await admin.request("/api/attempts?status=failed&target=OrderClient")
                #expect(failed.status == 200)
                let rows = ((failed.json as? [String: Any])?["attempts"] as? [[String: Any]]) ?? []
                #expect(rows.compactMap { ($0["id"] as? NSNumber)?.int64Value } == ids.prefix(2).reversed())
                #expect(rows.first?["last_error"] as? String == "HTTP 500: boom")
                #expect(!failed.body.contains("4111-secret") && !failed.body.contains("method_args"))

                let paged = try await admin.request("/api/attempts?limit=2")
                let page = paged.json as? [String: Any]
                #expect((page?["attempts"] as? [Any])?.count == 2)
                #expect((page?["next_before"] as? NSNumber)?.int64Value == ids[4])

                let one = try await admin.request("/api/attempts/\(ids[2])")
                #expect((one.json as? [String: Any])?["status"] as? String == "expired")
                #expect(try await admin.request("/api/attempts/999999").status == 404)
                let bad = try await admin.request("/api/attempts?status=done")
                #expect(bad.status == 400 && bad.body.contains("status"))

                let stats = try await admin.request("/api/stats")
                let target = (((stats.json as? [String: Any])?["targets"] as? [[String: Any]]) ?? []).first
                #expect(target?["target"] as? String == "OrderClient")
                #expect((target?["pending"] as? NSNumber)?.intValue == 3)
                #expect((target?["due"] as? NSNumber)?.intValue == 3)
                #expect((target?["failed_last_hour"] as? NSNumber)?.intValue == 2)

                // A fresh heartbeat: on a loaded machine the seed's may be older than dead_after (10 s) by now.
                try await database.withConnection { connection in
                    _ = try await Seed.scalar(
                        "WITH n AS (UPDATE async_task_nodes SET heartbeat_at = now() RETURNING 1) SELECT count(*) FROM n", on: connection)
                }
                let nodes = try await admin.request("/api/nodes")
                let node = (((nodes.json as? [String: Any])?["nodes"] as? [[String: Any]]) ?? []).first
                #expect(node?["id"] as? String == nodeID.uuidString)
                #expect(node?["live"] as? Bool == true)
                #expect((node?["in_flight"] as? NSNumber)?.intValue == 3)
                #expect(node?["targets"] as? [String] == ["OrderClient"])
            }
        }
    }

    @Test("retry, expire and fail need the bearer token; without a configured token they are refused")
    func actionsNeedToken() async throws {
        try await TestDatabase.with { database in
            let ids: [Int64] = try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                let ids = try await Seed.enqueue(3, target: "OrderClient", on: connection)
                try await AttemptActions().fail(ids[0], on: connection)
                return ids
            }
            func status(_ id: Int64) async throws -> String {
                try await database.withConnection { try await AttemptActions().find(id, on: $0)?.status.rawValue ?? "gone" }
            }
            try await AdminHarness.with(database: database) { admin in
                let refused = try await admin.post("/api/attempts/\(ids[0])/retry", headers: ["Authorization": "Bearer anything-at-all-here"])
                #expect(refused.status == 403 && refused.body.contains("admin.token"))
                #expect(try await status(ids[0]) == "failed")
            }
            let token = "s3cret-admin-token-0123456789"
            try await AdminHarness.with(database: database, token: token) { admin in
                let missing = try await admin.post("/api/attempts/\(ids[0])/retry")
                #expect(missing.status == 401)
                #expect(missing.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                #expect(try await admin.post("/api/attempts/\(ids[0])/retry", headers: ["Authorization": "Bearer \(token)x"]).status == 401)
                #expect(try await admin.post("/api/attempts/\(ids[0])/retry", headers: ["Authorization": "Basic \(token)"]).status == 401)
                #expect(try await status(ids[0]) == "failed")

                let auth = ["Authorization": "Bearer \(token)"]
                let retried = try await admin.post("/api/attempts/\(ids[0])/retry", headers: auth)
                #expect(retried.status == 200 && (retried.json as? [String: Any])?["status"] as? String == "pending")
                #expect(try await status(ids[0]) == "pending")
                #expect(try await admin.post("/api/attempts/\(ids[1])/expire", headers: auth).status == 200)
                #expect(try await status(ids[1]) == "expired")
                #expect(try await admin.post("/api/attempts/\(ids[2])/fail?reason=operator", headers: auth).status == 200)
                #expect(try await status(ids[2]) == "failed")
                let conflict = try await admin.post("/api/attempts/\(ids[1])/fail", headers: auth)
                #expect(conflict.status == 409 && conflict.body.contains("expired"))
                #expect(try await admin.post("/api/attempts/424242/retry", headers: auth).status == 404)

                // The dashboard's form: the token travels in the form body; a wrong one changes nothing.
                let form = try await admin.post(
                    "/attempts/\(ids[2])/retry", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: "token=wrong")
                #expect(form.status == 401)
                #expect(try await status(ids[2]) == "failed")
                let submitted = try await admin.post(
                    "/attempts/\(ids[2])/retry", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                    body: "token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)")
                #expect(submitted.status == 303 && submitted.headers["location"] == "/attempts/\(ids[2])?done=retry")
                #expect(try await status(ids[2]) == "pending")
            }
        }
    }

    @Test("the dashboard is self-contained HTML: no scripts or external assets, a strict CSP, escaped content")
    func dashboardHTML() async throws {
        try await TestDatabase.with { database in
            let id: Int64 = try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                let id = try await Seed.enqueue(1, target: "<script>alert(1)</script>", on: connection)[0]
                try await AttemptActions().fail(id, reason: "<img src=x onerror=alert(1)>", on: connection)
                return id
            }
            try await AdminHarness.with(database: database) { admin in
                for path in ["/", "/attempts?status=failed", "/attempts/\(id)"] {
                    let page = try await admin.request(path)
                    #expect(page.status == 200, "\(path)")
                    #expect(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)
                    #expect(!page.body.contains("<script"), "\(path) has a script")
                    #expect(!page.body.contains("<img"), "\(path) did not escape")
                    #expect(!page.body.contains("http://") && !page.body.contains("https://"), "\(path) references an external asset")
                }
                let detail = try await admin.request("/attempts/\(id)")
                #expect(detail.body.contains("id=\"retry-button\" disabled"), "actions are disabled without a token")
            }
        }
    }
}
