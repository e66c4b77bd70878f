import type { Generated } from "kysely";

// Conventions shared by both engines: text ids, times as epoch milliseconds (bigint on PostgreSQL, read back
// as a JS number), booleans as integer 0/1, JSON as text. Column names stay snake_case as in the SQL.

export interface OrgsTable {
  id: string;
  name: string;
  tenant_id: string | null;
  client_id: string | null;
  /** AES-256-GCM envelope; the clear secret is never stored. */
  client_secret_ciphertext: string | null;
  client_secret_expires_at: number | null;
  webhook_base_url: string | null;
  created_at: number;
  updated_at: number;
}

export type EventSeverity = "info" | "warning" | "error" | "critical";

export interface OperationalEventsTable {
  id: string;
  org_id: string | null;
  kind: string;
  severity: EventSeverity;
  message: string;
  details_json: string | null;
  created_at: number;
}

export interface JobsTable {
  id: string;
  kind: string;
  org_id: string | null;
  /** At most one pending job per key; NULL means "no deduplication". */
  dedupe_key: string | null;
  run_at: number;
  attempts: Generated<number>;
  max_attempts: number;
  locked_by: string | null;
  locked_until: number | null;
  last_error: string | null;
  created_at: number;
}

export interface KvTable {
  key: string;
  value: string;
  updated_at: number;
}

export interface Database {
  orgs: OrgsTable;
  operational_events: OperationalEventsTable;
  jobs: JobsTable;
  kv: KvTable;
}

export type Engine = "sqlite" | "postgres";
