import AsyncTask
import AsyncTaskAdmin
import Foundation
import PostgresClient
import TestSupport
import Testing

@Suite("operator views: bulk API, phases, @webhook apart, read token, series, try labels")
struct OperatorViewsTests {
    static let token = "s3cret-admin-token-0123456789"
    static let readToken = "read-only-token-0123456789"

    @Test("bulk API: a dry run counts, then ids or a filter change exactly the matches; @webhook rows only when asked")
    func bulkAPI() async throws {
        try await TestDatabase.with { database in
            let (users, webhooks): ([Int64], [Int64]) = try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                let users = try await Seed.enqueue(5, target: "OrderClient", on: connection)
                let webhooks = try await Seed.enqueue(2, target: Schema.webhookTarget, on: connection)
                for id in users + webhooks { try await AttemptActions().fail(id, reason: "boom", on: connection) }
                return (users, webhooks)
            }
            try await AdminHarness.with(database: database, token: Self.token) { admin in
                let auth = ["Authorization": "Bearer \(Self.token)"]
                #expect(try await admin.post("/api/bulk/retry?status=failed").status == 401)
                let dry = try await admin.post("/api/bulk/retry?status=failed&dry_run=1", headers: auth)
                #expect((dry.json as? [String: Any])?["matching"] as? Int == 5, "\(dry.body)")
                let none = try await admin.post("/api/bulk/retry", headers: auth)
                #expect(none.status == 400 && none.body.contains("selection"))
                let byIDs = try await admin.post("/api/bulk/retry?ids=\(users[0]),\(users[1])", headers: auth)
                #expect((byIDs.json as? [String: Any])?["changed"] as? Int == 2)
                let byFilter = try await admin.post("/api/bulk/expire?status=pending", headers: auth)
                #expect((byFilter.json as? [String: Any])?["changed"] as? Int == 2, "the two retried ones are pending now")
                let withWebhooks = try await admin.post("/api/bulk/retry?status=failed&include_internal=1", headers: auth)
                #expect((withWebhooks.json as? [String: Any])?["changed"] as? Int == 5, "3 user attempts and 2 deliveries")
                // users[0] was expired above: a fail cannot apply to it, the two pending ones are failed.
                let failDry = try await admin.post("/api/bulk/fail?ids=\(users[0]),\(users[2]),\(users[3])&dry_run=1", headers: auth)
                #expect((failDry.json as? [String: Any])?["matching"] as? Int == 2, "\(failDry.body)")
                let failed = try await admin.post("/api/bulk/fail?ids=\(users[0]),\(users[2]),\(users[3])&reason=operator%20gave%20up", headers: auth)
                #expect((failed.json as? [String: Any])?["changed"] as? Int == 2, "\(failed.body)")
            }
            let failedRows = try await database.withConnection { connection in
                try await Seed.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'failed' AND last_error LIKE '%operator gave up%'",
                    [[users[2], users[3]]], on: connection)
            }
            #expect(failedRows == 2, "bulk fail keeps the reason")
            let pending = try await database.withConnection { connection in
                try await Seed.scalar(
                    "SELECT count(*) FROM async_task_attempts WHERE id = ANY($1) AND status = 'pending'", [webhooks], on: connection)
            }
            #expect(pending == 2)
        }
    }

    @Test("listings by phase (scheduled, retrying, running) and stats leave @webhook rows out unless asked")
    func phasesAndInternal() async throws {
        try await TestDatabase.with { database in
            let ids: [Int64] = try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                let ids = try await Seed.enqueue(4, target: "OrderClient", on: connection)
                _ = try await Seed.enqueue(1, target: Schema.webhookTarget, on: connection)
                _ = try await Seed.scalar(
                    """
                    WITH u AS (UPDATE async_task_attempts SET
                        available_at = CASE WHEN id = $1 THEN now() + interval '1 hour' WHEN id = $2 THEN now() + interval '1 minute' WHEN id = $3 THEN now() + interval '30 seconds' ELSE available_at END,
                        num_attempts = CASE WHEN id IN ($2, $3) THEN 1 ELSE 0 END,
                        locked_by = CASE WHEN id = $3 THEN gen_random_uuid() END
                      RETURNING 1) SELECT count(*) FROM u
                    """, [ids[0], ids[1], ids[2]], on: connection)
                return ids
            }
            try await AdminHarness.with(database: database) { admin in
                func listed(_ query: String) async throws -> [Int64] {
                    let rows = ((try await admin.request("/api/attempts?\(query)").json as? [String: Any])?["attempts"] as? [[String: Any]]) ?? []
                    return rows.compactMap { ($0["id"] as? NSNumber)?.int64Value }
                }
                #expect(try await listed("state=scheduled") == [ids[0]])
                #expect(try await listed("state=retrying") == [ids[1]])
                #expect(try await listed("state=running") == [ids[2]])
                #expect(try await listed("") == ids.reversed())
                #expect(try await listed("include_internal=1").count == 5)
                #expect(try await admin.request("/api/attempts?state=sleeping").status == 400)
                let stats = try await admin.request("/api/stats")
                #expect(!stats.body.contains("@webhook"))
                #expect(try await admin.request("/api/stats?include_internal=1").body.contains("@webhook"))
                let page = try await admin.request("/attempts")
                #expect(page.body.contains("id=\"internal-hidden\">1 webhook deliveries match too"), "the listing says what it leaves out")
                let overview = try await admin.request("/")
                #expect(overview.body.contains("id=\"internal-queues\""), "the overview shows the deliveries in a table of their own")
            }
        }
    }

    @Test("read token: pages and API ask for it (Bearer or Basic password; the admin token also reads), probes stay open")
    func readToken() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { try await Migrator().migrate(on: $0) }
            try await AdminHarness.with(database: database, token: Self.token, readToken: Self.readToken) { admin in
                // curl, not URLSession: FoundationNetworking does not hand a Basic challenge's 401 back to the caller.
                let page = try await ChildProcess.run(["/usr/bin/curl", "-sS", "-i", admin.baseURL + "/"], timeout: .seconds(20))
                #expect(page.stdout.hasPrefix("HTTP/1.1 401") && page.stdout.lowercased().contains("www-authenticate: basic"), "\(page.stdout)")
                #expect(!page.stdout.contains("Queues"))
                #expect(try await admin.request("/api/attempts").status == 401)
                #expect(try await admin.request("/api/attempts", headers: ["Authorization": "Bearer \(Self.readToken)x"]).status == 401)
                #expect(try await admin.request("/api/attempts", headers: ["Authorization": "Bearer \(Self.readToken)"]).status == 200)
                #expect(try await admin.request("/api/attempts", headers: ["Authorization": "Bearer \(Self.token)"]).status == 200)
                let basic = Data("anyone:\(Self.readToken)".utf8).base64EncodedString()
                #expect(try await admin.request("/", headers: ["Authorization": "Basic \(basic)"]).status == 200)
                for open in ["/healthz", "/readyz", "/metrics"] { #expect(try await admin.request(open).status == 200, "\(open)") }
                // Reading is all it grants.
                let refused = try await admin.post("/api/bulk/retry?status=failed", headers: ["Authorization": "Bearer \(Self.readToken)"])
                #expect(refused.status == 401)
            }
        }
    }

    @Test("series: per-target buckets with pickup lag and latency from the try history; a row cap says where counts are incomplete")
    func series() async throws {
        try await TestDatabase.with { database in
            try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                // Six finished 10 minutes ago (picked up 2 s after creation, calls of 100 ms), one failed 1 minute ago.
                _ = try await Seed.scalar(
                    """
                    WITH i AS (INSERT INTO async_task_attempts (target, method_name, status, created_at, completed_at, num_attempts, tries)
                    SELECT 'OrderClient', 'fulfill', CASE WHEN g = 7 THEN 'failed' ELSE 'succeeded' END,
                           now() - make_interval(mins => CASE WHEN g = 7 THEN 1 ELSE 10 END) - interval '3 seconds',
                           now() - make_interval(mins => CASE WHEN g = 7 THEN 1 ELSE 10 END), 1,
                           jsonb_build_array(jsonb_build_object('try', 1, 'outcome', CASE WHEN g = 7 THEN 'failed' ELSE 'succeeded' END,
                               'started_at', to_char((now() - make_interval(mins => CASE WHEN g = 7 THEN 1 ELSE 10 END) - interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                               'duration_ms', 100 * g))
                    FROM generate_series(1, 7) g RETURNING 1) SELECT count(*) FROM i
                    """, on: connection)
                let series = try await ClusterStats().series(.hour, on: connection)
                #expect(series.completeFrom == nil)
                #expect(series.points.map(\.succeeded).reduce(0, +) == 6 && series.points.map(\.failed).reduce(0, +) == 1)
                let busy = try #require(series.points.first { $0.succeeded == 6 })
                #expect(abs((busy.lagAvgSeconds ?? 0) - 2) < 0.01, "\(busy)")
                #expect(abs((busy.latencyAvgMs ?? 0) - 350) < 0.01, "mean of 100…600 ms")
                let capped = try await ClusterStats().series(.hour, rowCap: 3, on: connection)
                #expect(capped.completeFrom != nil)
                #expect(capped.points.map(\.succeeded).reduce(0, +) == 3)
                let day = try await ClusterStats().series(.day, on: connection)
                #expect(day.bucketSeconds == 900 && day.points.map(\.succeeded).reduce(0, +) == 6)
            }
        }
    }

    @Test(
        "a succeeded attempt's old error is shown as history, not as its state, in listings too; they show the limit in force; JSON keeps milliseconds"
    )
    func earlierErrorAndMilliseconds() async throws {
        try await TestDatabase.with { database in
            let id: Int64 = try await database.withConnection { connection in
                try await Migrator().migrate(on: connection)
                let id = try await Seed.enqueue(1, target: "OrderClient", on: connection)[0]
                // Succeeded on its second try; the first answered 503. Both ran under the target default of 12.
                _ = try await Seed.scalar(
                    """
                    WITH u AS (UPDATE async_task_attempts SET status = 'succeeded', completed_at = now(), num_attempts = 2,
                        last_error = 'http_status: HTTP status 503', last_error_kind = 'http_status', last_error_at = now(),
                        created_at = '2026-01-02T03:04:05.678Z',
                        tries = '[{"try": 1, "outcome": "retry", "max_attempts": 12, "error_kind": "http_status", "http_status": 503},
                                  {"try": 2, "outcome": "succeeded", "max_attempts": 12}]'
                      WHERE id = $1 RETURNING 1) SELECT count(*) FROM u
                    """, [id], on: connection)
                return id
            }
            try await AdminHarness.with(database: database) { admin in
                let reply = try await admin.request("/api/attempts/\(id)")
                let object = reply.json as? [String: Any]
                #expect(object?["last_error_current"] as? Bool == false)
                #expect(object?["created_at"] as? String == "2026-01-02T03:04:05.678Z", "\(reply.body)")
                let page = try await admin.request("/attempts/\(id)")
                #expect(page.body.contains("(an earlier try; the attempt has since succeeded)"))
                #expect(page.body.contains("No outcome recorded") == false)
                #expect(page.body.contains("data-field=\"max_attempts\">12 (target default)"), "\(page.body)")
                let listing = try await admin.request("/attempts?status=succeeded")
                #expect(listing.body.contains("<td class=\"err\" data-field=\"last_error\">(earlier try) http_status"), "\(listing.body)")
                // The tries column shows the limit its tries ran under (the listing read no tries before: "2").
                #expect(listing.body.contains("data-field=\"tries\">2/12<"), "\(listing.body)")
                let api = try #require(
                    (try await admin.request("/api/attempts?status=succeeded").json as? [String: Any])?["attempts"] as? [[String: Any]])
                #expect((api.first?["effective_max_attempts"] as? NSNumber)?.intValue == 12, "\(api)")
                #expect(api.first?["effective_max_attempts_source"] as? String == "last_try", "\(api)")
                #expect(api.first?["last_error_current"] as? Bool == false, "\(api)")
            }
        }
    }
}
