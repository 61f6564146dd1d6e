import AsyncTaskCore

extension Schema {
    /// The largest concurrency key, in bytes (the column's check).
    public static let maxConcurrencyKeyBytes = 255

    /// A transaction-local setting: `flush` while a node's outcome flush runs, which passes the ordering keys of
    /// its outcomes on itself, set-based in the same statement, so the per-row trigger stays out of it.
    public static let keysPassedSetting = "asynctask.keys_passed"

    /// Schema v10: fairness per key (`concurrency_key`, `targets.<name>.key_concurrency`) and a circuit breaker per
    /// target shared by the cluster (`targets.<name>.circuit`).
    ///
    /// **Key concurrency.** At most `key_concurrency` attempts of one `(target, concurrency_key)` are leased at any
    /// moment, from all nodes together, so one large customer cannot take every slot; unlike an ordering key the
    /// key's attempts run in any order. In flight means leased, as for `global_concurrency` (a dead node's leases
    /// count until they are reaped). The claim skips the due rows of keys at their limit; rows without a key are
    /// never held back.
    ///
    /// **Circuit.** `async_task_targets.circuit_state` is `closed` (calls run), `open` (no node claims the target
    /// until `circuit_retry_at`; waiting attempts keep their tries) or `half_open` (at most `probes` calls are
    /// claimed; their outcomes close the circuit or open it again). Nodes report each flush's calls through
    /// `async_task_circuit_record`, which counts retryable failures in a row (a success starts the count again,
    /// so does a run older than `window`) and opens the circuit at the threshold. Transitions write webhook
    /// events `target.circuit_opened` / `target.circuit_closed` by the rule of version 6 (any live webhook node
    /// asking for the event). The plain claim skips every target whose circuit is not closed, so a node without
    /// the `circuit` block never calls an open target either; the claim function closes such a circuit once its
    /// cooldown passed when no node that claims it knows the block any more.
    ///
    /// `async_task_claim_limited` gains those arguments as an overload; version 8's signature stays for nodes
    /// of the previous release during a rolling upgrade.
    ///
    /// **Ordered keys, cheaper.** A node's outcome flush promotes the next parked row of each key its outcomes
    /// pass on in the flush's own statement, one set-based UPDATE, and marks the transaction
    /// (``keysPassedSetting``) so that the per-row trigger of version 9 skips its rows: one PL/pgSQL call and
    /// one UPDATE per keyed outcome cost a flush of 256 keyed outcomes 126 ms against 21 ms without keys.
    /// Operators' changes, releases and reaping still pass keys through the trigger.
    static let version10 = Migration(
        version: 10, name: "key_concurrency_and_circuit",
        sql: """
            ALTER TABLE async_task_attempts
                ADD COLUMN concurrency_key text
                    CONSTRAINT async_task_attempts_concurrency_key_check CHECK (octet_length(concurrency_key) BETWEEN 1 AND \(maxConcurrencyKeyBytes));
            -- What a key holds: its leased attempts (small: at most the target's calls in flight).
            CREATE INDEX async_task_attempts_concurrency_key_idx
                ON async_task_attempts (target, concurrency_key)
                WHERE status = '\(AttemptStatus.pending)' AND locked_by IS NOT NULL AND concurrency_key IS NOT NULL;

            ALTER TABLE async_task_targets
                ADD COLUMN key_concurrency integer CHECK (key_concurrency > 0),
                ADD COLUMN circuit_state text NOT NULL DEFAULT 'closed'
                    CONSTRAINT async_task_targets_circuit_state_check CHECK (circuit_state IN ('closed', 'open', 'half_open')),
                ADD COLUMN circuit_changed_at timestamptz,
                ADD COLUMN circuit_retry_at timestamptz,
                ADD COLUMN circuit_failures integer NOT NULL DEFAULT 0,
                ADD COLUMN circuit_run_at timestamptz,
                ADD COLUMN circuit_probes integer NOT NULL DEFAULT 0,
                ADD COLUMN circuit_successes integer NOT NULL DEFAULT 0,
                ADD COLUMN circuit_opened integer NOT NULL DEFAULT 0,
                ADD COLUMN circuit_last_error text;

            -- Writes a target event for the webhook when a live webhook node asks for it (version 6's rule).
            CREATE FUNCTION async_task_target_event(p_event text, p_target async_task_targets, p_node uuid) RETURNS void
            LANGUAGE plpgsql AS $$
            DECLARE
                wanted boolean;
                settings jsonb;
                node_info jsonb;
            BEGIN
                SELECT bool_or(n.webhook -> 'events' ? p_event) INTO wanted
                FROM async_task_nodes n WHERE n.status IN ('active', 'draining') AND n.webhook IS NOT NULL;
                IF wanted IS NULL THEN
                    SELECT value INTO settings FROM async_task_settings WHERE key = 'webhook';
                    wanted := coalesce(settings -> 'events', '[]'::jsonb) ? p_event;
                END IF;
                IF NOT coalesce(wanted, false) THEN RETURN; END IF;
                SELECT jsonb_build_object('id', n.id, 'hostname', n.hostname) INTO node_info FROM async_task_nodes n WHERE n.id = p_node;
                INSERT INTO async_task_attempts (target, method_name, method_args, priority)
                VALUES ('\(webhookTarget)', p_event, jsonb_build_object(
                    'event_id', gen_random_uuid(),
                    'event', p_event,
                    'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                    'target', jsonb_build_object(
                        'name', p_target.target, 'circuit_state', p_target.circuit_state,
                        'failures', p_target.circuit_failures, 'times_opened', p_target.circuit_opened,
                        'retry_at', to_char(p_target.circuit_retry_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                        'last_error', p_target.circuit_last_error),
                    'node', node_info
                ), -10);
            END $$;

            -- A node's report of one outcome flush for a target with a circuit: `p_failures` retryable failures
            -- after the flush's last success (`p_reset`: the flush held a success), `p_successes` successes.
            -- Returns the transition it made: 'opened', 'closed' or NULL.
            CREATE FUNCTION async_task_circuit_record(
                p_target text, p_failures integer, p_reset boolean, p_successes integer, p_last_error text,
                p_threshold integer, p_window_ms bigint, p_cooldown_ms bigint, p_probes integer, p_node uuid)
            RETURNS text LANGUAGE plpgsql AS $$
            DECLARE
                c async_task_targets%ROWTYPE;
                v_run integer;
            BEGIN
                -- The common case, successes on a closed circuit with no failures counted, writes nothing.
                SELECT * INTO c FROM async_task_targets s WHERE s.target = p_target;
                IF p_failures = 0 AND (c.target IS NULL OR (c.circuit_state = 'closed' AND c.circuit_failures = 0)) THEN
                    RETURN NULL;
                END IF;
                INSERT INTO async_task_targets (target) VALUES (p_target) ON CONFLICT (target) DO NOTHING;
                SELECT * INTO c FROM async_task_targets s WHERE s.target = p_target FOR UPDATE;
                IF c.circuit_state = 'closed' THEN
                    v_run := CASE WHEN p_reset OR c.circuit_run_at IS NULL OR c.circuit_failures = 0
                                       OR c.circuit_run_at < now() - p_window_ms * interval '1 millisecond'
                                  THEN 0 ELSE c.circuit_failures END + p_failures;
                    IF v_run >= p_threshold THEN
                        UPDATE async_task_targets s SET circuit_state = 'open', circuit_changed_at = now(),
                            circuit_retry_at = now() + p_cooldown_ms * interval '1 millisecond', circuit_failures = v_run,
                            circuit_probes = 0, circuit_successes = 0, circuit_opened = s.circuit_opened + 1,
                            circuit_last_error = p_last_error, updated_at = now()
                        WHERE s.target = p_target RETURNING * INTO c;
                        PERFORM async_task_target_event('\(WebhookEvent.circuitOpened.rawValue)', c, p_node);
                        RETURN 'opened';
                    END IF;
                    UPDATE async_task_targets s SET circuit_failures = v_run,
                        circuit_run_at = CASE WHEN v_run = 0 THEN NULL
                                              WHEN v_run = p_failures THEN now() ELSE s.circuit_run_at END
                    WHERE s.target = p_target;
                    RETURN NULL;
                ELSIF c.circuit_state = 'half_open' THEN
                    IF p_failures > 0 THEN
                        UPDATE async_task_targets s SET circuit_state = 'open', circuit_changed_at = now(),
                            circuit_retry_at = now() + p_cooldown_ms * interval '1 millisecond', circuit_failures = p_failures,
                            circuit_probes = 0, circuit_successes = 0, circuit_opened = s.circuit_opened + 1,
                            circuit_last_error = p_last_error, updated_at = now()
                        WHERE s.target = p_target RETURNING * INTO c;
                        PERFORM async_task_target_event('\(WebhookEvent.circuitOpened.rawValue)', c, p_node);
                        RETURN 'opened';
                    END IF;
                    IF c.circuit_successes + p_successes >= p_probes THEN
                        UPDATE async_task_targets s SET circuit_state = 'closed', circuit_changed_at = now(),
                            circuit_retry_at = NULL, circuit_failures = 0, circuit_run_at = NULL, circuit_probes = 0,
                            circuit_successes = 0, updated_at = now()
                        WHERE s.target = p_target RETURNING * INTO c;
                        PERFORM async_task_target_event('\(WebhookEvent.circuitClosed.rawValue)', c, p_node);
                        RETURN 'closed';
                    END IF;
                    UPDATE async_task_targets s SET circuit_successes = s.circuit_successes + p_successes WHERE s.target = p_target;
                END IF;
                -- Open: outcomes of calls that were in flight when it opened change nothing.
                RETURN NULL;
            END $$;

            -- Version 9's trigger, except in a node's outcome flush, which passes its keys on itself.
            DROP TRIGGER async_task_attempts_pass_key ON async_task_attempts;
            CREATE TRIGGER async_task_attempts_pass_key
                AFTER UPDATE OF status, key_blocked, locked_by ON async_task_attempts
                FOR EACH ROW WHEN (NEW.ordering_key IS NOT NULL AND NOT NEW.key_blocked
                                   AND ((OLD.status = '\(AttemptStatus.pending)' AND NEW.status <> '\(AttemptStatus.pending)')
                                        OR OLD.key_blocked OR (OLD.locked_by IS NOT NULL AND NEW.locked_by IS NULL))
                                   AND current_setting('\(keysPassedSetting)', true) IS DISTINCT FROM 'flush')
                EXECUTE FUNCTION async_task_attempts_pass_key();


            """ + claimFunction(create: "CREATE", rateMarginMs: 50))

    /// The claim function of version 10: version 8's, per target also within `p_key_limits` (at most that many
    /// leased per concurrency key; NULL: none) and the circuit (`p_probes`, `p_cooldowns_ms`: the node's
    /// `circuit` block for the target, NULL without one). Due rows of keys at their limit are skipped, up to four
    /// rounds per target: a round that found a key's first rows may fill that key, and the next looks past it.
    ///
    /// `create` is `CREATE` (version 10) or `CREATE OR REPLACE` (later versions); `rateMarginMs` is the time of
    /// calls that the bucket keeps off its capacity for calls that start after their claim. Released migrations
    /// keep their text (`MigrationTextTests`): version 10 is `CREATE` with 50 ms.
    static func claimFunction(create: String, rateMarginMs: Int, leaseThroughIDArray: Bool = false) -> String {
        // How the picked rows are leased: joined (version 10), or found by id (version 13; see there). The join's
        // second line keeps version 10's indentation at each of its two places.
        func leaseJoin(indent: Int) -> String {
            leaseThroughIDArray
                ? "WHERE t.id = ANY (ARRAY(SELECT picked.id FROM picked))"
                : "FROM picked\n" + String(repeating: " ", count: indent) + "WHERE t.id = picked.id"
        }
        // Leased by id, the rows come back in the picked order through a join of the two CTEs (no table read),
        // so `picked` carries the order's columns.
        let pickedColumns = leaseThroughIDArray ? ", a.priority, a.available_at" : ""
        let rankedColumns = leaseThroughIDArray ? ", r.priority, r.available_at" : ""
        let claimedInOrder =
            leaseThroughIDArray
            ? "SELECT c.* FROM claimed c JOIN picked p ON p.id = c.id ORDER BY p.priority, p.available_at, p.id;"
            : "SELECT * FROM claimed;"
        return """
            \(create) FUNCTION async_task_claim_limited(
                p_targets text[], p_wants integer[], p_rates double precision[], p_bursts integer[], p_globals integer[],
                p_key_limits integer[], p_probes integer[], p_cooldowns_ms bigint[], p_node uuid, p_lease_ms bigint)
            RETURNS TABLE (
                id bigint, target text, method_name text, method_args text, encryptor text, num_attempts integer,
                max_attempts integer, idempotence_token text, tried_for_ms bigint, throttled_ms integer)
            LANGUAGE plpgsql AS $$
            #variable_conflict use_column
            DECLARE
                v_target text;
                v_control async_task_targets%ROWTYPE;
                v_rate double precision;
                v_capacity double precision;
                v_global integer;
                v_key_limit integer;
                v_want integer;
                v_grant integer;
                v_held integer;
                v_tokens double precision;
                v_claimed integer;
                v_round integer;
                v_got integer;
                v_at timestamptz;
                v_wait integer;
                v_circuit_wait integer;
            BEGIN
                -- As the plain claim: a claim lost in a crash only runs the attempt again (DESIGN §8).
                PERFORM set_config('synchronous_commit', 'off', true);
                FOR i IN 1 .. coalesce(array_length(p_targets, 1), 0) LOOP
                    v_target := p_targets[i];
                    v_want := p_wants[i];
                    INSERT INTO async_task_targets (target) VALUES (v_target) ON CONFLICT (target) DO NOTHING;
                    SELECT * INTO v_control FROM async_task_targets s WHERE s.target = v_target FOR UPDATE;
                    CONTINUE WHEN v_control.paused OR v_want <= 0;
                    v_rate := coalesce(v_control.rate_per_second, p_rates[i]);
                    v_global := coalesce(v_control.global_concurrency, p_globals[i]);
                    v_key_limit := coalesce(v_control.key_concurrency, p_key_limits[i]);
                    v_grant := v_want;
                    v_circuit_wait := NULL;
                    IF v_control.circuit_state <> 'closed' THEN
                        IF p_probes[i] IS NULL THEN
                            -- This node has no circuit block for the target: it waits out the cooldown, then closes it.
                            IF v_control.circuit_retry_at IS NULL OR v_control.circuit_retry_at <= now() THEN
                                UPDATE async_task_targets s SET circuit_state = 'closed', circuit_changed_at = now(),
                                    circuit_retry_at = NULL, circuit_failures = 0, circuit_run_at = NULL, circuit_probes = 0,
                                    circuit_successes = 0
                                WHERE s.target = v_target;
                            ELSE
                                v_grant := 0;
                                v_circuit_wait := ceil(extract(epoch FROM v_control.circuit_retry_at - now()) * 1000)::integer;
                            END IF;
                        ELSIF v_control.circuit_state = 'open' AND v_control.circuit_retry_at > now() THEN
                            v_grant := 0;
                            v_circuit_wait := ceil(extract(epoch FROM v_control.circuit_retry_at - now()) * 1000)::integer;
                        ELSE
                            IF v_control.circuit_state = 'open' OR v_control.circuit_retry_at <= now() THEN
                                -- The cooldown passed (or the probes of a half-open circuit went undecided for as
                                -- long, their nodes gone): probe again.
                                UPDATE async_task_targets s SET circuit_state = 'half_open', circuit_changed_at = now(),
                                    circuit_retry_at = now() + p_cooldowns_ms[i] * interval '1 millisecond',
                                    circuit_probes = 0, circuit_successes = 0
                                WHERE s.target = v_target RETURNING * INTO v_control;
                            END IF;
                            v_grant := least(v_grant, p_probes[i] - v_control.circuit_probes);
                            IF v_grant <= 0 THEN v_circuit_wait := 100; END IF;
                        END IF;
                    END IF;
                    IF v_global IS NOT NULL AND v_grant > 0 THEN
                        SELECT count(*) INTO v_held FROM async_task_attempts a
                        WHERE a.locked_by IS NOT NULL AND a.target = v_target AND a.status = 'pending';
                        v_grant := least(v_grant, v_global - v_held);
                    END IF;
                    v_at := clock_timestamp();
                    IF v_rate IS NOT NULL THEN
                        -- \(rateMarginMs) ms of calls stay off the bucket: a call starts a little after its claim took the
                        -- token, and the limit holds for when calls reach the target.
                        v_capacity := greatest(1, coalesce(v_control.burst, p_bursts[i], ceil(v_rate)) - v_rate * \(Double(rateMarginMs) / 1000));
                        v_tokens := least(v_capacity, coalesce(v_control.tokens, v_capacity)
                            + v_rate * greatest(0, extract(epoch FROM v_at - coalesce(v_control.tokens_at, v_at))));
                        v_grant := least(v_grant, floor(v_tokens)::integer);
                    END IF;
                    v_claimed := 0;
                    IF v_grant > 0 AND v_key_limit IS NULL THEN
                        RETURN QUERY
                        WITH picked AS (
                            SELECT a.id\(pickedColumns) FROM async_task_attempts a
                            WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = v_target
                              AND \(orderedKeyHeadCondition)
                            ORDER BY a.priority, a.available_at, a.id
                            LIMIT v_grant
                            FOR UPDATE SKIP LOCKED
                        ), claimed AS (
                            UPDATE async_task_attempts t
                            SET num_attempts = t.num_attempts + 1, locked_by = p_node,
                                available_at = now() + p_lease_ms * interval '1 millisecond', updated_at = now(),
                                first_tried_at = coalesce(t.first_tried_at, now())
                            \(leaseJoin(indent: 16))
                            RETURNING t.id, t.target, t.method_name, t.method_args::text, t.encryptor, t.num_attempts,
                                      t.max_attempts, t.idempotence_token,
                                      (extract(epoch FROM now() - t.first_tried_at) * 1000)::bigint, NULL::integer
                        )
                        \(claimedInOrder)
                        GET DIAGNOSTICS v_claimed = ROW_COUNT;
                    ELSIF v_grant > 0 THEN
                        v_round := 0;
                        LOOP
                            v_round := v_round + 1;
                            -- Each statement sees this transaction's earlier claims: a key filled by the last round
                            -- counts as full in this one.
                            RETURN QUERY
                            WITH held AS (
                                SELECT h.concurrency_key AS key, count(*) AS n FROM async_task_attempts h
                                WHERE h.target = v_target AND h.status = 'pending' AND h.locked_by IS NOT NULL
                                  AND h.concurrency_key IS NOT NULL
                                GROUP BY h.concurrency_key
                            ), candidates AS (
                                SELECT a.id, a.concurrency_key, a.priority, a.available_at FROM async_task_attempts a
                                WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = v_target
                                  AND \(orderedKeyHeadCondition)
                                  AND (a.concurrency_key IS NULL
                                       OR NOT EXISTS (SELECT 1 FROM held WHERE held.key = a.concurrency_key AND held.n >= v_key_limit))
                                ORDER BY a.priority, a.available_at, a.id
                                LIMIT (v_grant - v_claimed) * 4
                                FOR UPDATE SKIP LOCKED
                            ), ranked AS (
                                SELECT c.id, c.concurrency_key, c.priority, c.available_at,
                                       row_number() OVER (PARTITION BY c.concurrency_key ORDER BY c.priority, c.available_at, c.id) AS rn
                                FROM candidates c
                            ), picked AS (
                                SELECT r.id\(rankedColumns) FROM ranked r LEFT JOIN held ON held.key = r.concurrency_key
                                WHERE r.concurrency_key IS NULL OR r.rn + coalesce(held.n, 0) <= v_key_limit
                                ORDER BY r.priority, r.available_at, r.id
                                LIMIT v_grant - v_claimed
                            ), claimed AS (
                                UPDATE async_task_attempts t
                                SET num_attempts = t.num_attempts + 1, locked_by = p_node,
                                    available_at = now() + p_lease_ms * interval '1 millisecond', updated_at = now(),
                                    first_tried_at = coalesce(t.first_tried_at, now())
                                \(leaseJoin(indent: 20))
                                RETURNING t.id, t.target, t.method_name, t.method_args::text, t.encryptor, t.num_attempts,
                                          t.max_attempts, t.idempotence_token,
                                          (extract(epoch FROM now() - t.first_tried_at) * 1000)::bigint, NULL::integer
                            )
                            \(claimedInOrder)
                            GET DIAGNOSTICS v_got = ROW_COUNT;
                            v_claimed := v_claimed + v_got;
                            EXIT WHEN v_got = 0 OR v_claimed >= v_grant OR v_round >= 4;
                        END LOOP;
                    END IF;
                    IF v_rate IS NOT NULL THEN
                        UPDATE async_task_targets s SET tokens = v_tokens - v_claimed, tokens_at = v_at
                        WHERE s.target = v_target;
                    END IF;
                    IF v_control.circuit_state = 'half_open' AND v_claimed > 0 THEN
                        UPDATE async_task_targets s SET circuit_probes = s.circuit_probes + v_claimed WHERE s.target = v_target;
                    END IF;
                    -- Cut short by a limit while more is due (for a key-limited target, due rows of full keys count):
                    -- say when to ask again.
                    IF (v_claimed = greatest(v_grant, 0) OR v_key_limit IS NOT NULL) AND v_claimed < v_want AND EXISTS (
                        SELECT 1 FROM async_task_attempts a
                        WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = v_target
                          AND a.locked_by IS NULL
                          AND \(orderedKeyHeadCondition)
                    ) THEN
                        v_wait := coalesce(v_circuit_wait, 25);
                        IF v_circuit_wait IS NULL AND v_rate IS NOT NULL AND v_grant = floor(v_tokens)::integer THEN
                            -- Until the tokens for what is still wanted (at most half the bucket) are there.
                            v_wait := greatest(1, ceil(1000 * (greatest(1, least(v_want - v_claimed, ceil(v_capacity / 2)))
                                - (v_tokens - v_claimed)) / v_rate))::integer;
                        END IF;
                        RETURN QUERY SELECT NULL::bigint, v_target, NULL::text, NULL::text, NULL::text, NULL::integer,
                            NULL::integer, NULL::text, NULL::bigint, greatest(1, least(v_wait, 1000));
                    END IF;
                END LOOP;
            END
            $$;
            """
    }
}
