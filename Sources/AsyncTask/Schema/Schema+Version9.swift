import AsyncTaskCore

extension Schema {
    /// The condition a due row `a` must meet to be claimed when it has an ordering key: no earlier attempt of
    /// its `(target, ordering_key)` still holds the key. An earlier attempt holds it while it is pending (due,
    /// leased, in flight, waiting for a retry or for its schedule, on a dead node's lease) and, under
    /// `ordering.on_failure: block`, once it failed with `key_blocked` set. Both probes are index-only range
    /// scans of small partial indexes (`async_task_attempts_ordering_idx`, `…_blocked_key_idx`).
    ///
    /// Correct without any lock: a row claimed under a snapshot in which its predecessor was final cannot be
    /// overtaken (ids only grow, and a predecessor leaves `pending` only through its outcome), and a predecessor
    /// still pending in the snapshot keeps it unclaimed.
    public static let orderedKeyHeadCondition = """
        (a.ordering_key IS NULL OR (
            NOT EXISTS (SELECT 1 FROM async_task_attempts k
                        WHERE k.target = a.target AND k.ordering_key = a.ordering_key AND k.id < a.id
                          AND k.status = '\(AttemptStatus.pending)' AND k.ordering_key IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM async_task_attempts k
                            WHERE k.target = a.target AND k.ordering_key = a.ordering_key AND k.id < a.id AND k.key_blocked)))
        """

    /// The largest ordering key, in bytes (the column's check).
    public static let maxOrderingKeyBytes = 255

    /// Schema v9: ordered keys (`ordering_key`).
    ///
    /// Attempts of one `(target, ordering_key)` run one at a time in id order: both claims (the plain one and
    /// `async_task_claim_limited`, replaced here) take a keyed row only when ``orderedKeyHeadCondition`` holds.
    /// `key_blocked` marks a failed head that holds its key (`targets.<name>.ordering.on_failure: block`, set by
    /// the node recording the failure); an operator's retry clears it with the status, and `asynctask targets
    /// unblock` clears it leaving the head failed. Retention never prunes a blocked head. Rows without a key pay
    /// one `IS NULL` test.
    ///
    /// The webhook's events of keyed attempts gain `ordering`: the key and what it does next (`held` while the
    /// attempt will be retried, `moved_on` when its next attempt may run, `blocked`).
    static let version9 = Migration(
        version: 9, name: "ordered_keys",
        sql: """
            ALTER TABLE async_task_attempts
                ADD COLUMN ordering_key text
                    CONSTRAINT async_task_attempts_ordering_key_check CHECK (octet_length(ordering_key) BETWEEN 1 AND \(maxOrderingKeyBytes)),
                ADD COLUMN key_blocked boolean NOT NULL DEFAULT false,
                ADD CONSTRAINT async_task_attempts_key_blocked_check
                    CHECK (NOT key_blocked OR (status = '\(AttemptStatus.failed)' AND ordering_key IS NOT NULL));

            -- What holds a key: its pending attempts, and a failed head under on_failure: block.
            CREATE INDEX async_task_attempts_ordering_idx
                ON async_task_attempts (target, ordering_key, id) WHERE status = '\(AttemptStatus.pending)' AND ordering_key IS NOT NULL;
            CREATE INDEX async_task_attempts_blocked_key_idx
                ON async_task_attempts (target, ordering_key, id) WHERE key_blocked;


            """ + claimLimitedFunction(create: "CREATE OR REPLACE", dueFilter: "\n  AND " + orderedKeyHeadCondition) + "\n\n"
                + eventFunction(
                    orderingField: """
                        ,
                        'ordering', CASE WHEN NEW.ordering_key IS NULL THEN NULL ELSE jsonb_build_object(
                            'key', NEW.ordering_key,
                            'state', CASE WHEN NEW.status = '\(AttemptStatus.pending)' THEN 'held' WHEN NEW.key_blocked THEN 'blocked' ELSE 'moved_on' END) END
                        """))
}
