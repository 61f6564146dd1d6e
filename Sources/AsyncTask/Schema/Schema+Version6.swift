import AsyncTaskCore

extension Schema {
    /// Schema v6: which events the webhook trigger writes is decided by the live nodes, not by whichever node
    /// started last, and the trigger's SQL is built from the Swift names (`webhookTarget`, `WebhookEvent`,
    /// `AttemptStatus`).
    ///
    /// Each node stores its webhook configuration in its own row (`async_task_nodes.webhook`: `events` and
    /// `include_args`, NULL without a webhook; `WebhookSettings.publish` in AsyncTaskWorker). The rule: an event
    /// is written when the webhook of **any** live node (active or draining) asks for it, so a rolling change of
    /// `webhook.events` takes effect as the nodes are replaced and no event some node wants is lost; the
    /// attempt's arguments go along only when **every** live webhook node includes them (`webhook.include_args`),
    /// since they leave the database. While no node with a webhook is live (the cluster is stopped and an
    /// operator expires attempts), the union the live nodes had when one last started applies: nodes write it to
    /// `async_task_settings` (key `webhook`) as they start. Nodes without a webhook have no say.
    static let version6 = Migration(
        version: 6, name: "webhook_events_by_live_nodes",
        sql: """
            ALTER TABLE async_task_nodes ADD COLUMN webhook jsonb;


            """ + eventFunction(orderingField: "") + """


                -- The same trigger as version 2, its WHEN clause built from the same names. Successes never reach the
                -- function, so the hot path pays nothing.
                DROP TRIGGER async_task_attempts_event ON async_task_attempts;
                CREATE TRIGGER async_task_attempts_event
                    AFTER UPDATE OF status, last_error_at ON async_task_attempts
                    FOR EACH ROW
                    WHEN (NEW.target <> '\(webhookTarget)' AND NEW.status <> '\(AttemptStatus.succeeded)'
                          AND (NEW.status IS DISTINCT FROM OLD.status OR NEW.last_error_at IS DISTINCT FROM OLD.last_error_at))
                    EXECUTE FUNCTION async_task_attempts_event();
                """)

    /// The webhook trigger's function of version 6 (`orderingField` empty) and of later versions, which add
    /// `orderingField` (SQL starting with a comma: more keys of the event object) after `node`. Released
    /// migrations keep their text: with an empty field this is version 6's, byte for byte (`MigrationTextTests`).
    static func eventFunction(orderingField: String) -> String {
        """
        CREATE OR REPLACE FUNCTION async_task_attempts_event() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            event text;
            wanted boolean;
            include_args boolean;
            settings jsonb;
            node_info jsonb;
        BEGIN
            IF NEW.target = '\(webhookTarget)' THEN RETURN NULL; END IF;
            IF NEW.status = '\(AttemptStatus.failed)' AND OLD.status = '\(AttemptStatus.pending)' THEN event := '\(WebhookEvent.failed.rawValue)';
            ELSIF NEW.status = '\(AttemptStatus.expired)' AND OLD.status = '\(AttemptStatus.pending)' THEN event := '\(WebhookEvent.expired.rawValue)';
            ELSIF NEW.status = '\(AttemptStatus.pending)' AND NEW.last_error_at IS DISTINCT FROM OLD.last_error_at THEN event := '\(WebhookEvent.error.rawValue)';
            ELSE RETURN NULL;
            END IF;
            SELECT bool_or(n.webhook -> 'events' ? event), bool_and(coalesce((n.webhook ->> 'include_args')::boolean, false))
            INTO wanted, include_args
            FROM async_task_nodes n WHERE n.status IN ('active', 'draining') AND n.webhook IS NOT NULL;
            IF wanted IS NULL THEN
                -- No live node has a webhook: the union the live nodes had when one last started.
                SELECT value INTO settings FROM async_task_settings WHERE key = 'webhook';
                wanted := coalesce(settings -> 'events', '[]'::jsonb) ? event;
                include_args := coalesce((settings ->> 'include_args')::boolean, false);
            END IF;
            IF NOT coalesce(wanted, false) THEN RETURN NULL; END IF;
            SELECT jsonb_build_object('id', n.id, 'hostname', n.hostname) INTO node_info
            FROM async_task_nodes n WHERE n.id = OLD.locked_by;
            INSERT INTO async_task_attempts (target, method_name, method_args, priority)
            VALUES ('\(webhookTarget)', event, jsonb_build_object(
                'event_id', gen_random_uuid(),
                'event', event,
                'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'attempt', jsonb_build_object(
                    'id', NEW.id, 'target', NEW.target, 'method_name', NEW.method_name,
                    'idempotence_token', NEW.idempotence_token, 'num_attempts', NEW.num_attempts, 'status', NEW.status)
                    || CASE WHEN include_args
                            THEN jsonb_build_object('method_args', NEW.method_args, 'encryptor', NEW.encryptor)
                            ELSE '{}'::jsonb END,
                'error', CASE WHEN event = '\(WebhookEvent.expired.rawValue)' AND NEW.last_error_at IS NOT DISTINCT FROM OLD.last_error_at
                              THEN jsonb_build_object('kind', 'expired', 'http_status', NULL, 'message', 'expired by an operator', 'response_excerpt', NULL)
                              ELSE jsonb_build_object('kind', coalesce(NEW.last_error_kind, 'operator'), 'http_status', NEW.last_http_status,
                                                      'message', NEW.last_error, 'response_excerpt', NEW.last_response_excerpt) END,
                'node', node_info\(orderingField)
            ), -10);
            RETURN NULL;
        END $$;
        """
    }
}
