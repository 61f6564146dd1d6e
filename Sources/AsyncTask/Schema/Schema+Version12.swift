import AsyncTaskCore

extension Schema {
    /// The row of `(target, key)` just before `(target, key, id)` among `rows` (SQL expressions): the greatest
    /// `(target, ordering_key, id)` below it in the ordering index's order, read backwards from there. An index
    /// on `(target, ordering_key, id)` serves it with one step whatever the table holds, and only such an index
    /// can: no other plan has a cheap first row, so the planner picks it with any statistics (see version 12).
    /// Selects `target` and `ordering_key`: the caller checks they are the key's.
    static func keyPredecessor(of row: (target: String, key: String, id: String), among rows: String) -> String {
        """
        SELECT k.target, k.ordering_key FROM async_task_attempts k
        WHERE \(rows) AND (k.target, k.ordering_key, k.id) < (\(row.target), \(row.key), \(row.id))
        ORDER BY k.target DESC, k.ordering_key DESC, k.id DESC LIMIT 1
        """
    }

    /// The key's first row among `rows`: the least `(target, ordering_key, id)` from `(target, key)` on, read
    /// forwards in the ordering index (the caller checks it is the key's). Selects `id`, `target`, `ordering_key`.
    static func keyFirst(target: String, key: String, among rows: String) -> String {
        """
        SELECT k.id, k.target, k.ordering_key FROM async_task_attempts k
        WHERE \(rows) AND (k.target, k.ordering_key) >= (\(target), \(key))
        ORDER BY k.target, k.ordering_key, k.id LIMIT 1
        """
    }

    /// The rows that hold a key for the attempts after them: pending keyed rows (`async_task_attempts_ordering_idx`).
    static let pendingKeyedRows = "k.status = '\(AttemptStatus.pending)' AND k.ordering_key IS NOT NULL"
    /// Failed heads that block their key (`async_task_attempts_blocked_key_idx`).
    static let blockedKeyedRows = "k.key_blocked"

    /// PL/pgSQL that sets `v_held` to whether an earlier attempt holds the key of the row
    /// `(p_target, p_key, p_id)`: a pending one, or a blocked head (`v_before` is a `record` variable).
    static func keyHeldCheck(target: String, key: String, id: String) -> String {
        """
        v_held := false;
        \(keyPredecessor(of: (target, key, id), among: pendingKeyedRows)) INTO v_before;
        IF v_before.target = \(target) AND v_before.ordering_key = \(key) THEN
            v_held := true;
        ELSE
            \(keyPredecessor(of: (target, key, id), among: blockedKeyedRows)) INTO v_before;
            v_held := coalesce(v_before.target = \(target) AND v_before.ordering_key = \(key), false);
        END IF;
        """
    }

    /// Schema v12: the ordered-key triggers look their key up in one step, whatever the statistics.
    ///
    /// The functions of version 9 that park a keyed row on insert, recheck it at commit and promote a key's next
    /// row asked "is there an earlier pending row of this key" with `EXISTS (… k.id < NEW.id …)` and `min(k.id)`.
    /// PL/pgSQL plans such a query once per session; planned while the table is small or its statistics are
    /// skewed (a fresh table, one key dominating), the plan scans the table in id order and filters, which costs
    /// the whole table for every row whose key has no earlier row. A single `INSERT … SELECT` of 20,000 keyed
    /// rows into an empty table took 24 s that way (200,000 rows: over 12 minutes); the same insert now takes
    /// 0.45 s, and 200,000 rows with 10,000 keys 4.6 s. The lookups read the key's neighbour in the ordering
    /// index (`keyPredecessor`, `keyFirst`), an ordered scan with a limit of one row that no other index and no
    /// sequential scan can answer cheaply, and the functions run with `enable_seqscan` off, so that a plan made
    /// while the table holds one page cannot prefer reading it all. No table change.
    static let version12 = Migration(
        version: 12, name: "key_lookups_by_index",
        sql: """
            CREATE OR REPLACE FUNCTION async_task_attempts_park() RETURNS trigger LANGUAGE plpgsql
            SET enable_seqscan = off AS $$
            DECLARE
                v_before record;
                v_held boolean;
            BEGIN
                \(keyHeldCheck(target: "NEW.target", key: "NEW.ordering_key", id: "NEW.id"))
                IF v_held THEN
                    NEW.available_at := 'infinity';
                END IF;
                RETURN NEW;
            END $$;

            CREATE OR REPLACE FUNCTION async_task_attempts_recheck_parked() RETURNS trigger LANGUAGE plpgsql
            SET enable_seqscan = off AS $$
            DECLARE
                v_before record;
                v_held boolean;
            BEGIN
                \(keyHeldCheck(target: "NEW.target", key: "NEW.ordering_key", id: "NEW.id"))
                IF NOT v_held THEN
                    UPDATE async_task_attempts a SET available_at = coalesce(a.scheduled_at, a.created_at)
                    WHERE a.id = NEW.id AND a.available_at = 'infinity' AND a.status = '\(AttemptStatus.pending)';
                END IF;
                RETURN NULL;
            END $$;

            CREATE OR REPLACE FUNCTION async_task_attempts_promote(p_target text, p_key text) RETURNS void LANGUAGE plpgsql
            SET enable_seqscan = off AS $$
            DECLARE
                v_first record;
                v_before record;
                v_held boolean;
            BEGIN
                \(keyFirst(target: "p_target", key: "p_key", among: pendingKeyedRows)) INTO v_first;
                IF v_first.target IS DISTINCT FROM p_target OR v_first.ordering_key IS DISTINCT FROM p_key THEN
                    RETURN;
                END IF;
                -- Only a blocked head before it can hold the key's first pending row.
                \(keyPredecessor(of: ("p_target", "p_key", "v_first.id"), among: blockedKeyedRows)) INTO v_before;
                IF v_before.target = p_target AND v_before.ordering_key = p_key THEN
                    RETURN;
                END IF;
                UPDATE async_task_attempts a SET available_at = coalesce(a.scheduled_at, a.created_at)
                WHERE a.id = v_first.id AND a.available_at = 'infinity';
            END $$;
            """)
}
