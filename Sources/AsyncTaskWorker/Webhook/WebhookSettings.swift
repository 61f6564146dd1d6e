import AsyncTask
import Foundation
import PostgresClient

/// What a node tells the event trigger about its webhook: which events it wants written and whether they carry
/// the arguments (schema v6; the rule is `Schema.version6`'s).
///
/// Every node publishes when it starts, with or without a webhook (without one it clears its row's entry, so
/// a node id reused after its webhook was removed has no say any more).
enum WebhookSettings {
    // $1 the node, $2 its settings (NULL without a webhook). The node's row gets its own settings; the fallback
    // row (read only while no live node has a webhook) gets the union of the live nodes' events with this
    // node's, and include_args only if all of them include the arguments. The UPDATE's change is not visible to
    // the statement's other parts, hence `id <> $1` plus this node's settings added by hand.
    static let publish = PostgresStatement(
        name: "publish_webhook_settings",
        sql: """
            WITH mine AS (
                UPDATE async_task_nodes SET webhook = $2::jsonb WHERE id = $1 RETURNING webhook
            ), live AS (
                SELECT webhook FROM async_task_nodes
                WHERE status IN ('active', 'draining') AND webhook IS NOT NULL AND id <> $1
                UNION ALL
                SELECT webhook FROM mine WHERE webhook IS NOT NULL
            )
            INSERT INTO async_task_settings (key, value)
            SELECT 'webhook', jsonb_build_object(
                'events', (SELECT coalesce(jsonb_agg(DISTINCT e.event ORDER BY e.event), '[]'::jsonb)
                           FROM live CROSS JOIN LATERAL jsonb_array_elements_text(live.webhook -> 'events') AS e(event)),
                'include_args', (SELECT bool_and(coalesce((webhook ->> 'include_args')::boolean, false)) FROM live))
            WHERE EXISTS (SELECT 1 FROM live)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()
            """)

    /// Stores `webhook`'s events and `include_args` in node `node`'s row (nil clears them) and refreshes the
    /// fallback the trigger reads while no webhook node is live. Call after the node registered.
    /// - Throws: `PostgresError`.
    static func publish(_ webhook: WebhookConfiguration?, node: UUID, on pool: PostgresConnectionPool) async throws {
        let settings: PostgresBind = webhook.map { .jsonb(Data($0.settingsJSON.utf8)) } ?? .null
        try await pool.query(publish, [node, settings])
    }
}
