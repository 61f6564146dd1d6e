extension Schema {
    /// Schema v8: limits per target that hold for the whole cluster (`rate`, `burst`, `global_concurrency`).
    ///
    /// `async_task_targets` gains the operator's overrides (`asynctask targets set`; NULL: the nodes' config
    /// file decides) and the shared token bucket of a rate-limited target (`tokens` left at `tokens_at`).
    ///
    /// `async_task_claim_limited` claims for limited targets one target at a time, in the order given (nodes
    /// pass them sorted, so two claims never wait on each other in a cycle): it locks the target's row, so
    /// claims for one limited target are serialised across the cluster, and each statement after the lock sees
    /// what the claim before it committed (a plpgsql statement takes a fresh snapshot; one SQL statement could
    /// not). In flight means leased: a pending row with `locked_by` set, including a dead node's until it is
    /// reaped, so a takeover never exceeds `global_concurrency`. The bucket refills at `rate` up to `burst` less
    /// 50 ms of calls (at least one call) and each claimed attempt takes one token, retries included: over any
    /// second the claims then leave room for calls that start up to 50 ms after their claim. When a limit stopped
    /// the claim short while more was due, a last row without `id` says so and when to ask again
    /// (`throttled_ms`).
    static let version8 = Migration(
        version: 8, name: "cluster_limits",
        sql: """
            ALTER TABLE async_task_targets
                ADD COLUMN rate_per_second double precision CHECK (rate_per_second > 0),
                ADD COLUMN burst integer CHECK (burst >= 0),
                ADD COLUMN global_concurrency integer CHECK (global_concurrency > 0),
                ADD COLUMN limits_set_by text,
                ADD COLUMN tokens double precision,
                ADD COLUMN tokens_at timestamptz;


            """ + claimLimitedFunction(create: "CREATE", dueFilter: ""))

    /// The claim function of version 8 (`create`: `CREATE`) and of later versions (`CREATE OR REPLACE`, with
    /// `dueFilter`, SQL starting with a newline and `AND`, narrowing which due rows of `a` a claim may take).
    /// Released migrations must keep their text: with `CREATE` and an empty filter this is version 8's, byte for
    /// byte (`MigrationTextTests` holds each released migration's digest).
    static func claimLimitedFunction(create: String, dueFilter: String) -> String {
        """
        \(create) FUNCTION async_task_claim_limited(
            p_targets text[], p_wants integer[], p_rates double precision[], p_bursts integer[], p_globals integer[],
            p_node uuid, p_lease_ms bigint)
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
            v_want integer;
            v_grant integer;
            v_held integer;
            v_tokens double precision;
            v_claimed integer;
            v_at timestamptz;
            v_wait integer;
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
                v_grant := v_want;
                IF v_global IS NOT NULL THEN
                    SELECT count(*) INTO v_held FROM async_task_attempts a
                    WHERE a.locked_by IS NOT NULL AND a.target = v_target AND a.status = 'pending';
                    v_grant := least(v_grant, v_global - v_held);
                END IF;
                v_at := clock_timestamp();
                IF v_rate IS NOT NULL THEN
                    -- 50 ms of calls stay off the bucket: a call starts a little after its claim took the
                    -- token, and the limit holds for when calls reach the target.
                    v_capacity := greatest(1, coalesce(v_control.burst, p_bursts[i], ceil(v_rate)) - v_rate * 0.05);
                    v_tokens := least(v_capacity, coalesce(v_control.tokens, v_capacity)
                        + v_rate * greatest(0, extract(epoch FROM v_at - coalesce(v_control.tokens_at, v_at))));
                    v_grant := least(v_grant, floor(v_tokens)::integer);
                END IF;
                v_claimed := 0;
                IF v_grant > 0 THEN
                    RETURN QUERY
                    WITH picked AS (
                        SELECT a.id FROM async_task_attempts a
                        WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = v_target\(dueFilter)
                        ORDER BY a.priority, a.available_at, a.id
                        LIMIT v_grant
                        FOR UPDATE SKIP LOCKED
                    ), claimed AS (
                        UPDATE async_task_attempts t
                        SET num_attempts = t.num_attempts + 1, locked_by = p_node,
                            available_at = now() + p_lease_ms * interval '1 millisecond', updated_at = now(),
                            first_tried_at = coalesce(t.first_tried_at, now())
                        FROM picked
                        WHERE t.id = picked.id
                        RETURNING t.id, t.target, t.method_name, t.method_args::text, t.encryptor, t.num_attempts,
                                  t.max_attempts, t.idempotence_token,
                                  (extract(epoch FROM now() - t.first_tried_at) * 1000)::bigint, NULL::integer
                    )
                    SELECT * FROM claimed;
                    GET DIAGNOSTICS v_claimed = ROW_COUNT;
                END IF;
                IF v_rate IS NOT NULL THEN
                    UPDATE async_task_targets s SET tokens = v_tokens - v_claimed, tokens_at = v_at
                    WHERE s.target = v_target;
                END IF;
                -- Cut short by a limit while more is due: say when to ask again.
                IF v_claimed = greatest(v_grant, 0) AND v_claimed < v_want AND EXISTS (
                    SELECT 1 FROM async_task_attempts a
                    WHERE a.status = 'pending' AND a.available_at <= now() AND a.target = v_target
                      AND a.locked_by IS NULL\(dueFilter)
                ) THEN
                    v_wait := 25;
                    IF v_rate IS NOT NULL AND v_grant = floor(v_tokens)::integer THEN
                        -- Until the tokens for what is still wanted (at most half the bucket) are there.
                        v_wait := greatest(1, ceil(1000 * (greatest(1, least(v_want - v_claimed, ceil(v_capacity / 2)))
                            - (v_tokens - v_claimed)) / v_rate))::integer;
                    END IF;
                    RETURN QUERY SELECT NULL::bigint, v_target, NULL::text, NULL::text, NULL::text, NULL::integer,
                        NULL::integer, NULL::text, NULL::bigint, least(v_wait, 1000);
                END IF;
            END LOOP;
        END
        $$;
        """
    }
}
