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

            -- A keyed row inserted behind a pending row of its key waits outside every claim's range
            -- (available_at = 'infinity', "parked") until its predecessor's final outcome promotes it, so a deep
            -- backlog behind one key costs a claim nothing. Parking only saves work: the claims still check the
            -- head condition, so a row promoted too early is never run out of order.
            CREATE INDEX async_task_attempts_parked_idx
                ON async_task_attempts (id) WHERE available_at = 'infinity' AND status = '\(AttemptStatus.pending)' AND ordering_key IS NOT NULL;
            CREATE FUNCTION async_task_attempts_park() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM async_task_attempts k
                           WHERE k.target = NEW.target AND k.ordering_key = NEW.ordering_key AND k.id < NEW.id
                             AND k.status = '\(AttemptStatus.pending)' AND k.ordering_key IS NOT NULL)
                   OR EXISTS (SELECT 1 FROM async_task_attempts k
                              WHERE k.target = NEW.target AND k.ordering_key = NEW.ordering_key AND k.id < NEW.id AND k.key_blocked) THEN
                    NEW.available_at := 'infinity';
                END IF;
                RETURN NEW;
            END $$;
            -- After async_task_attempts_schedule (triggers of one event fire in name order).
            CREATE TRIGGER async_task_attempts_wait_for_key
                BEFORE INSERT ON async_task_attempts
                FOR EACH ROW WHEN (NEW.ordering_key IS NOT NULL AND NEW.status = '\(AttemptStatus.pending)')
                EXECUTE FUNCTION async_task_attempts_park();
            -- Promotes the key's earliest pending row when it is parked and nothing earlier holds the key; due at
            -- its own time again (its schedule, else its insert), so it keeps its place among the due rows.
            -- PL/pgSQL, not SQL: a session keeps its plan, where an SQL function called from a trigger is parsed
            -- and planned again at every row (about 1 ms each, measured: 315 ms outcome flushes of 256 rows).
            CREATE FUNCTION async_task_attempts_promote(p_target text, p_key text) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE async_task_attempts a SET available_at = coalesce(a.scheduled_at, a.created_at)
                WHERE a.id = (SELECT min(k.id) FROM async_task_attempts k
                              WHERE k.target = p_target AND k.ordering_key = p_key
                                AND k.status = '\(AttemptStatus.pending)' AND k.ordering_key IS NOT NULL)
                  AND a.available_at = 'infinity'
                  AND NOT EXISTS (SELECT 1 FROM async_task_attempts k
                                  WHERE k.target = a.target AND k.ordering_key = a.ordering_key AND k.id < a.id AND k.key_blocked);
            END $$;
            -- The key passes on when its head leaves pending without blocking it, when a blocked head is
            -- unblocked, when a lease ends (an operator's retry of an earlier attempt waits parked for the call in
            -- flight, then runs before the retry of that call), or when a pending row is deleted.
            CREATE FUNCTION async_task_attempts_pass_key() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    PERFORM async_task_attempts_promote(OLD.target, OLD.ordering_key);
                ELSE
                    PERFORM async_task_attempts_promote(NEW.target, NEW.ordering_key);
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER async_task_attempts_pass_key
                AFTER UPDATE OF status, key_blocked, locked_by ON async_task_attempts
                FOR EACH ROW WHEN (NEW.ordering_key IS NOT NULL AND NOT NEW.key_blocked
                                   AND ((OLD.status = '\(AttemptStatus.pending)' AND NEW.status <> '\(AttemptStatus.pending)')
                                        OR OLD.key_blocked OR (OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL)))
                EXECUTE FUNCTION async_task_attempts_pass_key();
            CREATE TRIGGER async_task_attempts_pass_key_on_delete
                AFTER DELETE ON async_task_attempts
                FOR EACH ROW WHEN (OLD.ordering_key IS NOT NULL AND OLD.status = '\(AttemptStatus.pending)')
                EXECUTE FUNCTION async_task_attempts_pass_key();
            -- A row parked while its predecessor's outcome was being written cannot be seen by that promotion:
            -- at its commit the inserting transaction looks again and promotes it itself if nothing earlier holds
            -- the key any more. What slips between the two (both commit within the same moment) the nodes'
            -- sweep promotes (`async_task_attempts_parked_idx`).
            CREATE FUNCTION async_task_attempts_recheck_parked() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE async_task_attempts a SET available_at = coalesce(a.scheduled_at, a.created_at)
                WHERE a.id = NEW.id AND a.available_at = 'infinity' AND a.status = '\(AttemptStatus.pending)'
                  AND \(orderedKeyHeadCondition);
                RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER async_task_attempts_recheck_parked
                AFTER INSERT ON async_task_attempts DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW WHEN (NEW.ordering_key IS NOT NULL AND NEW.available_at = 'infinity')
                EXECUTE FUNCTION async_task_attempts_recheck_parked();


            """ + claimLimitedFunction(create: "CREATE OR REPLACE", dueFilter: "\n  AND " + orderedKeyHeadCondition) + "\n\n"
                + eventFunction(
                    orderingField: """
                        ,
                        'ordering', CASE WHEN NEW.ordering_key IS NULL THEN NULL ELSE jsonb_build_object(
                            'key', NEW.ordering_key,
                            'state', CASE WHEN NEW.status = '\(AttemptStatus.pending)' THEN 'held' WHEN NEW.key_blocked THEN 'blocked' ELSE 'moved_on' END) END
                        """))
}
