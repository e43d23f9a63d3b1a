/*
 * migrations_sqlite.c: the SQLite schema, as an ordered list of migrations.
 *
 * Entry i takes a database from schema version i to i + 1; sqlite.c applies
 * the missing ones in order, all in one transaction, at open, and records the
 * version in the meta table. Never edit a migration that has shipped: add a
 * new one. docs/store.md describes the tables.
 *
 * Times are INTEGER microseconds since the epoch, UTC. States are stored by
 * name (TEXT) so that the file reads well in the sqlite3 shell and a new
 * state can be added without renumbering. Documents that belong to one row
 * and are always read whole (state histories, attempts, outputs) are JSON
 * text columns; everything that grows with the execution is its own row.
 */
#include "store/store_int.h"

/* The triggers that move auth_generation on after any change to table t. */
#define AUTH_GEN_ONE(t, op) \
    "CREATE TRIGGER " t "_gen_" op " AFTER " op " ON " t \
    " BEGIN UPDATE auth_generation SET v = v + 1; END;\n"
#define AUTH_GEN_TRIGGERS(t) AUTH_GEN_ONE(t, "INSERT") AUTH_GEN_ONE(t, "UPDATE") AUTH_GEN_ONE(t, "DELETE")

const char *const store__sqlite_migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ") WITHOUT ROWID;\n"

    "CREATE TABLE flows (\n"
    "  namespace TEXT NOT NULL,\n"
    "  id TEXT NOT NULL,\n"
    "  revision INTEGER NOT NULL,\n"
    "  source TEXT NOT NULL,\n"
    "  json TEXT,\n"
    "  deleted INTEGER NOT NULL DEFAULT 0,\n"
    "  created INTEGER NOT NULL,\n"
    "  PRIMARY KEY (namespace, id, revision)\n"
    ") WITHOUT ROWID;\n"

    "CREATE TABLE executions (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  namespace TEXT NOT NULL,\n"
    "  flow_id TEXT NOT NULL,\n"
    "  flow_revision INTEGER NOT NULL,\n"
    "  state TEXT NOT NULL,\n"
    "  histories TEXT NOT NULL,\n"
    "  inputs TEXT,\n"
    "  outputs TEXT,\n"
    "  labels TEXT,\n"
    "  variables TEXT,\n"
    "  trigger TEXT,\n"
    "  parent_id TEXT,\n"
    "  parent_task_run_id TEXT,\n"
    "  original_id TEXT,\n"
    "  created INTEGER NOT NULL,\n"
    "  start_date INTEGER,\n"
    "  end_date INTEGER,\n"
    "  version INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX executions_flow ON executions (namespace, flow_id, created);\n"
    "CREATE INDEX executions_created ON executions (created);\n"
    "CREATE INDEX executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;\n"

    /* clustered by execution, in creation order: listing an execution's task
     * runs is one range scan, and an insert touches two b-trees, not three */
    "CREATE TABLE task_runs (\n"
    "  execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,\n"
    "  seq INTEGER NOT NULL,\n"
    "  id TEXT NOT NULL,\n"
    "  parent_task_run_id TEXT,\n"
    "  task_id TEXT NOT NULL,\n"
    "  value TEXT,\n"
    "  iteration INTEGER NOT NULL DEFAULT 0,\n"
    "  state TEXT NOT NULL,\n"
    "  histories TEXT NOT NULL,\n"
    "  attempts TEXT NOT NULL,\n"
    "  outputs TEXT,\n"
    "  created INTEGER NOT NULL,\n"
    "  updated INTEGER NOT NULL,\n"
    "  PRIMARY KEY (execution_id, seq)\n"
    ") WITHOUT ROWID;\n"
    "CREATE UNIQUE INDEX task_runs_id ON task_runs (id);\n"

    "CREATE TABLE logs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  execution_id TEXT NOT NULL,\n"
    "  task_run_id TEXT,\n"
    "  task_id TEXT,\n"
    "  attempt INTEGER NOT NULL DEFAULT 0,\n"
    "  time INTEGER NOT NULL,\n"
    "  level INTEGER NOT NULL,\n"
    "  message TEXT NOT NULL\n"
    ");\n"
    "CREATE INDEX logs_execution ON logs (execution_id, id);\n"

    "CREATE TABLE metrics (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  execution_id TEXT,\n"
    "  task_run_id TEXT,\n"
    "  task_id TEXT,\n"
    "  name TEXT NOT NULL,\n"
    "  type TEXT NOT NULL,\n"
    "  value REAL NOT NULL,\n"
    "  tags TEXT,\n"
    "  time INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX metrics_execution ON metrics (execution_id, id);\n"

    "CREATE TABLE jobs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  execution_id TEXT,\n"
    "  task_run_id TEXT,\n"
    "  payload TEXT,\n"
    "  available_at INTEGER NOT NULL,\n"
    "  attempt INTEGER NOT NULL DEFAULT 1,\n"
    "  owner TEXT,\n"
    "  lease_until INTEGER,\n"
    "  created INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX jobs_ready ON jobs (kind, available_at, id) WHERE owner IS NULL;\n"
    "CREATE INDEX jobs_leased ON jobs (lease_until) WHERE owner IS NOT NULL;\n"

    "CREATE TABLE kv (\n"
    "  namespace TEXT NOT NULL,\n"
    "  key TEXT NOT NULL,\n"
    "  value TEXT NOT NULL,\n"
    "  expires INTEGER,\n"
    "  updated INTEGER NOT NULL,\n"
    "  PRIMARY KEY (namespace, key)\n"
    ") WITHOUT ROWID;\n"

    "CREATE TABLE triggers (\n"
    "  namespace TEXT NOT NULL,\n"
    "  flow_id TEXT NOT NULL,\n"
    "  trigger_id TEXT NOT NULL,\n"
    "  next_date INTEGER,\n"
    "  disabled INTEGER NOT NULL DEFAULT 0,\n"
    "  last_fired INTEGER,\n"
    "  state TEXT,\n"
    "  updated INTEGER NOT NULL,\n"
    "  PRIMARY KEY (namespace, flow_id, trigger_id)\n"
    ") WITHOUT ROWID;\n"

    "CREATE TABLE trigger_ticks (\n"
    "  namespace TEXT NOT NULL,\n"
    "  flow_id TEXT NOT NULL,\n"
    "  trigger_id TEXT NOT NULL,\n"
    "  scheduled INTEGER NOT NULL,\n"
    "  execution_id TEXT,\n"
    "  created INTEGER NOT NULL,\n"
    "  PRIMARY KEY (namespace, flow_id, trigger_id, scheduled)\n"
    ") WITHOUT ROWID;\n",

    /* 1 -> 2: the executions that have not ended, per flow (concurrency
     * limits, recovery at start-up), without scanning a flow's history */
    "CREATE INDEX executions_unfinished ON executions (namespace, flow_id)"
    " WHERE state NOT IN " STORE__TERMINATED_SQL ";\n",

    /* 2 -> 3: the webhook keys of each flow's latest revision, so that a call
     * with a wrong key is answered without reading the flow (or its body).
     * One row per Webhook trigger: the SHA-256 of a literal key, or the key's
     * template when it has an expression; a row with trigger_id '' marks a
     * revision indexed with no webhook at all. */
    "CREATE TABLE webhook_keys (\n"
    "  namespace TEXT NOT NULL,\n"
    "  flow_id TEXT NOT NULL,\n"
    "  trigger_id TEXT NOT NULL,\n"
    "  revision INTEGER NOT NULL,\n"
    "  key_sha256 TEXT,\n"
    "  key_template TEXT,\n"
    "  PRIMARY KEY (namespace, flow_id, trigger_id)\n"
    ") WITHOUT ROWID;\n",

    /* 3 -> 4: kite's secrets store: one row per (namespace, name), the
     * value sealed with libsodium's secretbox (nonce then ciphertext,
     * store/secret.c); the key check value lives in the reserved kv
     * namespace _kite.secrets */
    "CREATE TABLE secrets (\n"
    "  namespace TEXT NOT NULL,\n"
    "  name TEXT NOT NULL,\n"
    "  value BLOB NOT NULL,\n"
    "  updated INTEGER NOT NULL,\n"
    "  PRIMARY KEY (namespace, name)\n"
    ") WITHOUT ROWID;\n",
    /* 4 -> 5: access control (server/policy.c, docs/security.md): principals
     * (users and service accounts), tokens (only their SHA-256), roles (a
     * JSON array of statements), bindings (a principal, a role, a namespace
     * pattern) and the audit log, which triggers keep append-only. Every
     * change to principals, tokens, roles and bindings moves the one
     * `generation` row on, which the server reads with each token so that
     * its compiled policy is rebuilt after a change made by any process. */
    "CREATE TABLE principals (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  kind TEXT NOT NULL,\n"
    "  password TEXT,\n"
    "  created INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE tokens (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  owner TEXT NOT NULL,\n"
    "  sha256 TEXT NOT NULL UNIQUE,\n"
    "  scope TEXT,\n"
    "  created INTEGER NOT NULL,\n"
    "  expires INTEGER,\n"
    "  revoked INTEGER\n"
    ");\n"
    "CREATE INDEX tokens_owner ON tokens (owner);\n"
    "CREATE TABLE roles (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  statements TEXT NOT NULL,\n"
    "  updated INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE bindings (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  principal TEXT NOT NULL,\n"
    "  role TEXT NOT NULL,\n"
    "  namespace TEXT NOT NULL,\n"
    "  created INTEGER NOT NULL,\n"
    "  UNIQUE (principal, role, namespace)\n"
    ");\n"
    "CREATE TABLE audit (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  time INTEGER NOT NULL,\n"
    "  principal TEXT NOT NULL,\n"
    "  address TEXT,\n"
    "  action TEXT NOT NULL,\n"
    "  kind TEXT,\n"
    "  namespace TEXT,\n"
    "  object_id TEXT,\n"
    "  before TEXT,\n"
    "  after TEXT\n"
    ");\n"
    "CREATE INDEX audit_time ON audit (time);\n"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN"
    " SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN"
    " SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
    "CREATE TABLE auth_generation (k INTEGER PRIMARY KEY CHECK (k = 0), v INTEGER NOT NULL);\n"
    "INSERT INTO auth_generation VALUES (0, 1);\n"
    AUTH_GEN_TRIGGERS("principals")
    AUTH_GEN_TRIGGERS("tokens")
    AUTH_GEN_TRIGGERS("roles")
    AUTH_GEN_TRIGGERS("bindings"),

    /* 5 -> 6: the dashboards' statistics (store_execution_stats) read only
     * this index for executions in a time range: per state buckets, the
     * duration percentiles and the failing flows never visit the table.
     * It serves every query executions_created served (its first column). */
    "CREATE INDEX IF NOT EXISTS executions_stats ON executions\n"
    "  (created, namespace, flow_id, flow_revision, state, start_date, end_date);\n"
    "DROP INDEX IF EXISTS executions_created;\n",
};

const int store__sqlite_migration_count =
    (int)(sizeof store__sqlite_migrations / sizeof store__sqlite_migrations[0]);
