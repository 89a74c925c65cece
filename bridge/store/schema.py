"""The SQLite schema, as numbered migrations. Times are Unix seconds (REAL); JSON columns hold
objects as text. Version 1 is the schema of release 0.1, which created it in one script.
"""

import sqlite3

from bridge.store.migrations import Migration

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
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

CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY,
    route TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    labels TEXT NOT NULL,
    cooldown_key TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT NOT NULL,
    dispatch_id TEXT,
    dispatched_at REAL,
    first_notification_id INTEGER NOT NULL REFERENCES notifications (id),
    opened_at REAL NOT NULL,
    resolved_at REAL,
    ends_at TEXT,
    UNIQUE (route, fingerprint, starts_at)
);
CREATE INDEX IF NOT EXISTS episodes_cooldown ON episodes (route, cooldown_key, dispatched_at);

CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications (id),
    alert_index INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    route TEXT,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    episode_id INTEGER REFERENCES episodes (id),
    dispatch_id TEXT,
    decided_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_episode ON decisions (episode_id);

CREATE TABLE IF NOT EXISTS dispatches (
    id TEXT PRIMARY KEY,
    episode_id INTEGER NOT NULL REFERENCES episodes (id),
    kind TEXT NOT NULL,
    route TEXT NOT NULL,
    target TEXT NOT NULL,
    target_type TEXT NOT NULL,
    state TEXT NOT NULL,
    context TEXT NOT NULL,
    request TEXT,
    created_at REAL NOT NULL,
    deadline_at REAL NOT NULL,
    next_attempt_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_from INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    last_error TEXT,
    last_reason TEXT,
    result TEXT,
    completed_at REAL,
    UNIQUE (episode_id, kind)
);
CREATE INDEX IF NOT EXISTS dispatches_due ON dispatches (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS dispatches_created ON dispatches (created_at);

CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    dispatch_id TEXT NOT NULL REFERENCES dispatches (id),
    attempt INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    status INTEGER,
    message TEXT NOT NULL,
    response TEXT,
    details TEXT,
    next_attempt_at REAL
);
CREATE INDEX IF NOT EXISTS attempts_dispatch ON attempts (dispatch_id);

CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (name, labels)
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the tables of release 0.1", SCHEMA),
    Migration(
        2,
        "indexes for retention (oldest rows first)",
        """
CREATE INDEX IF NOT EXISTS notifications_received ON notifications (received_at);
CREATE INDEX IF NOT EXISTS decisions_notification ON decisions (notification_id);
CREATE INDEX IF NOT EXISTS attempts_finished ON attempts (finished_at);
CREATE INDEX IF NOT EXISTS episodes_resolved ON episodes (resolved_at) WHERE state = 'resolved';
CREATE INDEX IF NOT EXISTS episodes_first_notification ON episodes (first_notification_id);
CREATE INDEX IF NOT EXISTS dispatches_completed ON dispatches (completed_at);
""",
    ),
    # One writer at a time in SQLite: its counters need no shards (PostgreSQL's version 3).
    Migration(3, "nothing to do in SQLite (PostgreSQL shards its counters)", ""),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def read_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in ``conn``'s file; 0 when it has none yet."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])
