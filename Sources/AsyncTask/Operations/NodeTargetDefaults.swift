public import Foundation
public import PostgresClient

/// The target settings each node applies to attempts that do not carry their own: today `max_attempts`, so
/// operators see the limit in force before an attempt's first try (after it, each try records its limit).
///
/// Kept without a schema change in `async_task_settings` under `settingsKey`: one JSON object keyed by node id,
/// each entry mapping the node's targets to their settings (`{"<node id>": {"OrderClient": {"max_attempts": 12}}}`).
/// A node writes its own entry when it registers and drops the entries of nodes that are no longer active or
/// draining, so the object holds about one entry per running node. Readers join the entries with the nodes that
/// are live (`LiveNodes`): a stopped or silent node's settings never count, and nodes configured differently
/// (during a rolling change) show as several values.
public enum NodeTargetDefaults {
    /// The `async_task_settings` key.
    public static let settingsKey = "node_targets"

    // $1 the node id as text, $2 its targets' settings. The row lock of the upsert serialises nodes starting at
    // once; `s.value` in the SET is the locked row's current value, so no concurrent entry is lost.
    static let publish = PostgresStatement(
        name: "publish_node_targets",
        sql: """
            INSERT INTO async_task_settings AS s (key, value)
            VALUES ('\(settingsKey)', jsonb_build_object($1::text, $2::jsonb))
            ON CONFLICT (key) DO UPDATE
            SET value = coalesce(
                    (SELECT jsonb_object_agg(e.node, e.targets)
                     FROM jsonb_each(s.value) AS e(node, targets)
                     JOIN async_task_nodes n ON n.id::text = e.node
                     WHERE e.node <> $1::text AND n.status IN ('active', 'draining')),
                    '{}'::jsonb) || excluded.value,
                updated_at = now()
            """)

    /// Stores node `node`'s target settings (`maxAttempts`: each served target's default), replacing its previous
    /// entry. Call after the node registered (its row must exist for others to keep its entry).
    /// - Throws: `PostgresError`.
    public static func publish(node: UUID, maxAttempts: [String: Int], on connection: PostgresConnection) async throws(PostgresError) {
        // Names and integers only: serialisation cannot fail.
        let json =
            (try? JSONSerialization.data(withJSONObject: maxAttempts.mapValues { ["max_attempts": $0] }, options: [.sortedKeys])) ?? Data("{}".utf8)
        _ = try await connection.query(publish, [node.uuidString.lowercased(), PostgresBind.jsonb(json)])
    }

    /// SQL of a relation `(target text, max_attempts integer[])`: per target, the distinct `max_attempts`
    /// defaults of the live nodes serving it, ascending (one value when they agree). `deadAfter` is the
    /// liveness limit in milliseconds, as `LiveNodes.condition` takes it.
    static func liveMaxAttempts(deadAfterMilliseconds deadAfter: PostgresQuery) -> PostgresQuery {
        """
        SELECT t.target, array_agg(DISTINCT (t.settings ->> 'max_attempts')::integer ORDER BY (t.settings ->> 'max_attempts')::integer) AS max_attempts
        FROM async_task_settings s
        CROSS JOIN LATERAL jsonb_each(s.value) AS e(node, targets)
        JOIN async_task_nodes n ON n.id::text = e.node AND \(LiveNodes.condition("n", deadAfterMilliseconds: deadAfter))
        CROSS JOIN LATERAL jsonb_each(e.targets) AS t(target, settings)
        WHERE s.key = \(unsafeSQL: "'\(settingsKey)'") AND jsonb_typeof(t.settings -> 'max_attempts') = 'number'
        GROUP BY t.target
        """
    }
}
