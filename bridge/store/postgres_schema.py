"""The PostgreSQL schema, as numbered migrations (the same tables and columns as SQLite's).

Times are Unix seconds (double precision) and JSON columns hold text, so that rows map to the
same records in both stores.
"""

from bridge.store.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the tables of release 0.1",
        """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL,
    receiver TEXT NOT NULL,
    status TEXT NOT NULL,
    group_key TEXT NOT NULL,
    external_url TEXT NOT NULL,
    alert_count INTEGER NOT NULL,
    truncated_alerts INTEGER NOT NULL,
    remote_addr TEXT,
    user_agent TEXT,
    payload TEXT NOT NULL
);

CREATE TABLE episodes (
    id BIGSERIAL PRIMARY KEY,
    route TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    labels TEXT NOT NULL,
    cooldown_key TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT NOT NULL,
    dispatch_id TEXT,
    dispatched_at DOUBLE PRECISION,
    first_notification_id BIGINT NOT NULL REFERENCES notifications (id),
    opened_at DOUBLE PRECISION NOT NULL,
    resolved_at DOUBLE PRECISION,
    ends_at TEXT,
    UNIQUE (route, fingerprint, starts_at)
);
CREATE INDEX episodes_cooldown ON episodes (route, cooldown_key, dispatched_at);

CREATE TABLE decisions (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    alert_index INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    route TEXT,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    episode_id BIGINT REFERENCES episodes (id),
    dispatch_id TEXT,
    decided_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX decisions_episode ON decisions (episode_id);

CREATE TABLE dispatches (
    id TEXT PRIMARY KEY,
    episode_id BIGINT NOT NULL REFERENCES episodes (id),
    kind TEXT NOT NULL,
    route TEXT NOT NULL,
    target TEXT NOT NULL,
    target_type TEXT NOT NULL,
    state TEXT NOT NULL,
    context TEXT NOT NULL,
    request TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    deadline_at DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_from INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    last_error TEXT,
    last_reason TEXT,
    result TEXT,
    completed_at DOUBLE PRECISION,
    UNIQUE (episode_id, kind)
);
CREATE INDEX dispatches_due ON dispatches (state, next_attempt_at);
CREATE INDEX dispatches_created ON dispatches (created_at);

CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY,
    dispatch_id TEXT NOT NULL REFERENCES dispatches (id),
    attempt INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    status INTEGER,
    message TEXT NOT NULL,
    response TEXT,
    details TEXT,
    next_attempt_at DOUBLE PRECISION
);
CREATE INDEX attempts_dispatch ON attempts (dispatch_id);

CREATE TABLE counters (
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (name, labels)
);
""",
    ),
    Migration(
        2,
        "indexes for retention (oldest rows first)",
        """
CREATE INDEX notifications_received ON notifications (received_at);
CREATE INDEX decisions_notification ON decisions (notification_id);
CREATE INDEX attempts_finished ON attempts (finished_at);
CREATE INDEX episodes_resolved ON episodes (resolved_at) WHERE state = 'resolved';
CREATE INDEX episodes_first_notification ON episodes (first_notification_id);
CREATE INDEX dispatches_completed ON dispatches (completed_at);
""",
    ),
    Migration(
        3,
        "counters in shards, so that concurrent transactions do not queue on one row",
        """
ALTER TABLE counters ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE counters DROP CONSTRAINT counters_pkey;
ALTER TABLE counters ADD PRIMARY KEY (name, labels, shard);
""",
    ),
)
