extension Schema {
    /// Schema v7: operator controls per target, shared by the cluster (`async_task_targets`).
    ///
    /// One row per target an operator has steered (`asynctask targets pause|resume`, the admin API); a target
    /// without a row runs as its nodes' configuration says. `paused`: no node claims the target's attempts, and
    /// nodes give back the attempts they claimed ahead and have not started within one heartbeat; calls in flight
    /// finish and pending attempts keep their tries. `paused_at` and `paused_by` say since when and who (free text,
    /// the operator's user and host by default).
    ///
    /// `async_task_attempts.first_tried_at`: when the attempt's first try was claimed (set by the claim, cleared when
    /// an unstarted claim is given back or an operator retries), for `targets.<name>.max_retry_duration`.
    static let version7 = Migration(
        version: 7, name: "target_controls",
        sql: """
            CREATE TABLE async_task_targets (
                target text PRIMARY KEY CHECK (length(target) BETWEEN 1 AND 255),
                paused boolean NOT NULL DEFAULT false,
                paused_at timestamptz,
                paused_by text,
                updated_at timestamptz NOT NULL DEFAULT now()
            );
            ALTER TABLE async_task_attempts ADD COLUMN first_tried_at timestamptz;
            """)
}
