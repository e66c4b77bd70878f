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
  /** UPN the admin expects to connect; used as `login_hint`. */
  expected_service_user_upn: string | null;
  /** Smallest "days left" threshold (30/14/7/1/0) already announced for the current secret expiry. */
  secret_expiry_warned_days: number | null;
  /** `rich` or `basic` (core/org.ts NotificationMode). */
  notification_mode: Generated<string>;
  created_at: number;
  updated_at: number;
}

export type ConnectionState = "connected" | "retrying" | "needs_reauth" | "misconfigured" | "disconnected";
export type FailureBucket = "retry" | "reauth" | "admin" | "defect";

export interface MsConnectionsTable {
  org_id: string;
  state: ConnectionState;
  tenant_id: string;
  /** The service user's immutable object id (`oid`). */
  user_id: string;
  user_principal_name: string;
  user_display_name: string | null;
  /** msal's `{oid}.{tid}`. */
  home_account_id: string;
  access_token_expires_at: number | null;
  last_refresh_at: number | null;
  consecutive_failures: Generated<number>;
  last_error_bucket: FailureBucket | null;
  last_error_aadsts: number | null;
  last_error_message: string | null;
  connected_at: number;
  updated_at: number;
}

export interface MsTokenCachesTable {
  org_id: string;
  /** AES-256-GCM envelope of msal's serialized cache (it holds the refresh token). */
  cache_ciphertext: string;
  /** Bumped on every write, for optimistic checks. */
  version: number;
  updated_at: number;
}

export interface OauthPendingTable {
  /** The OAuth `state` value: random, single use. */
  state: string;
  org_id: string;
  code_verifier_ciphertext: string;
  nonce: string;
  login_hint: string | null;
  replace_user: Generated<number>;
  created_at: number;
  expires_at: number;
}

export interface LeasesTable {
  name: string;
  owner: string;
  expires_at: number;
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

export interface EncryptionCertificatesTable {
  /** Our `encryptionCertificateId`, echoed in every rich notification. */
  id: string;
  org_id: string;
  certificate_der_base64: string;
  /** AES-256-GCM envelope of the PKCS#8 PEM private key. */
  private_key_ciphertext: string;
  /** Upper-case hex SHA-1 of the DER, as Graph sends `encryptionCertificateThumbprint`. */
  thumbprint: string;
  not_after: number;
  created_at: number;
  retired_at: number | null;
}

/**
 * `pending`: the keeper's choice (clientState, certificate) stored under `pending:<orgId>` before it sends
 * `POST /subscriptions`.
 */
export type SubscriptionState = "active" | "failing" | "removed" | "pending";

export interface SubscriptionsTable {
  /** Graph's subscription id. */
  id: string;
  org_id: string;
  resource: string;
  change_type: string;
  client_state_ciphertext: string;
  include_resource_data: number;
  encryption_certificate_id: string | null;
  expires_at: number;
  state: SubscriptionState;
  last_renewed_at: number | null;
  last_notification_at: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export type InboxStatus = "pending" | "processed" | "rejected";

export interface InboxTable {
  id: string;
  dedupe_key: string;
  org_id: string | null;
  subscription_id: string;
  kind: "change" | "lifecycle";
  payload_json: string;
  received_at: number;
  status: InboxStatus;
  attempts: Generated<number>;
  next_attempt_at: number;
  locked_by: string | null;
  locked_until: number | null;
  processed_at: number | null;
  last_error: string | null;
}

/** A validation token inbox rows reference by `id` (its hex SHA-256) instead of carrying a copy each. */
export interface ValidationTokensTable {
  id: string;
  token: string;
  first_seen_at: number;
}

export interface SeenMessagesTable {
  org_id: string;
  chat_id: string;
  message_id: string;
  source: "notification" | "polling";
  /** When the current claim was taken (the first sighting, or a takeover of a stale claim). */
  first_seen_at: number;
  message_created_at: number | null;
  /** When the message was handed to detection; null while a claim is in progress. */
  handed_off_at: number | null;
}

export interface PollWatermarksTable {
  org_id: string;
  /** `lastModifiedDateTime` (ms) up to which every chat message has been seen. */
  watermark: number;
  updated_at: number;
}

// --- Alerting (issue 5): emergencies, their timeline and acknowledgement links, channels, policies, templates,
// and the outbox of deliveries with their attempts. ---

export interface EmergenciesTable {
  id: string;
  org_id: string;
  chat_id: string;
  message_id: string;
  is_test: number;
  dial_string: string | null;
  caller_name: string | null;
  location_quality: string;
  rule_id: string;
  /** The detected Emergency (core/emergency.ts) as JSON. */
  emergency_json: string;
  /** The policy as it was when the call came in (core/alert-policy.ts PolicySnapshot), or null. */
  policy_json: string | null;
  state: string;
  escalation_step: number;
  message_time: number | null;
  detected_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  acknowledged_via: string | null;
  acknowledged_channel_id: string | null;
}

export interface EmergencyEventsTable {
  id: string;
  emergency_id: string;
  at: number;
  kind: string;
  message: string;
  details_json: string | null;
}

export interface AckTokensTable {
  /** SHA-256 (hex) of the token in the link; the token itself is never stored in clear. */
  token_hash: string;
  emergency_id: string;
  channel_id: string | null;
  created_at: number;
  expires_at: number;
}

export interface AlertChannelsTable {
  id: string;
  org_id: string;
  type: string;
  name: string;
  enabled: number;
  settings_json: string;
  /** AES-256-GCM envelope of the secrets as JSON, bound to the row (`alert_channels:secrets:<id>`). */
  secrets_ciphertext: string | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
}

export interface AlertPoliciesTable {
  id: string;
  org_id: string;
  name: string;
  kind: string;
  call_type: string;
  location_match_json: string | null;
  priority: number;
  enabled: number;
  tiers_json: string;
  retry_json: string | null;
  created_at: number;
  updated_at: number;
}

export interface AlertTemplatesTable {
  org_id: string;
  kind: string;
  title: string;
  text: string;
  updated_at: number;
}

export interface AlertDeliveriesTable {
  id: string;
  dedupe_key: string;
  org_id: string;
  emergency_id: string | null;
  event_id: string | null;
  channel_id: string;
  channel_type: string;
  channel_name: string;
  policy_id: string | null;
  tier: number;
  step: number;
  purpose: string;
  priority: number;
  status: string;
  /** AES-256-GCM envelope of the AlertMessage JSON (it carries the acknowledgement token), bound to the row. */
  message_ciphertext: string;
  attempts: number;
  max_attempts: number;
  deadline_at: number;
  next_attempt_at: number;
  locked_by: string | null;
  locked_until: number | null;
  created_at: number;
  first_attempt_at: number | null;
  last_attempt_at: number | null;
  delivered_at: number | null;
  dead_at: number | null;
  last_outcome: string | null;
  last_status_code: number | null;
  last_detail: string | null;
}

export interface DeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  attempt: number;
  started_at: number;
  latency_ms: number;
  outcome: string;
  status_code: number | null;
  detail: string | null;
}

export interface AlertThrottleTable {
  key: string;
  last_at: number;
}

// --- Detection (issue 5): per-org detection rules, drills and the messages captured while a drill runs. ---

export interface DetectionRulesTable {
  id: string;
  org_id: string;
  name: string;
  /** `phrase` or `pattern` (core/emergency.ts DetectionRule). */
  kind: string;
  value: string;
  marks_test: number;
  created_at: number;
  updated_at: number;
}

export interface DrillsTable {
  id: string;
  org_id: string;
  started_at: number;
  ends_at: number;
  ended_at: number | null;
  captures_purged_at: number | null;
}

export interface DrillCapturesTable {
  id: string;
  drill_id: string;
  org_id: string;
  chat_id: string;
  message_id: string;
  captured_at: number;
  detected: number;
  rule_id: string | null;
  reason: string | null;
  /** The Graph chatMessage as received (message content: kept only for drills, purged after them). */
  message_json: string;
  /** The DetectionResult as JSON. */
  result_json: string;
}

// --- Web app (issue 6): accounts, sessions, failed sign-ins and the audit log. ---

export interface WebAccountsTable {
  id: string;
  /** Lowercase, unique. */
  username: string;
  display_name: string | null;
  /** `admin`, `responder` or `viewer` (core/account.ts Role). */
  role: string;
  /** `scrypt$N$r$p$salt$hash` (src/web/password-hasher.ts); never the password. */
  password_hash: string;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
  password_changed_at: number;
}

export interface WebSessionsTable {
  /** SHA-256 (hex) of the session id in the cookie; the id itself is never stored. */
  id_hash: string;
  account_id: string;
  created_at: number;
  last_seen_at: number;
  /** Messages shown once on the next page (`[{kind, text}]`). */
  flash_json: string | null;
}

export interface WebLoginThrottleTable {
  /** `user:<username>` or `addr:<client address>`. */
  key: string;
  failures: number;
  last_failure_at: number;
  locked_until: number;
}

export interface WebAuditLogTable {
  id: string;
  at: number;
  actor_account_id: string | null;
  /** Username, or `admin API token`. */
  actor: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  summary: string;
  /** Field names and non-secret values as JSON. */
  details_json: string | null;
  client_address: string | null;
}

export interface Database {
  orgs: OrgsTable;
  operational_events: OperationalEventsTable;
  jobs: JobsTable;
  kv: KvTable;
  ms_connections: MsConnectionsTable;
  ms_token_caches: MsTokenCachesTable;
  oauth_pending: OauthPendingTable;
  leases: LeasesTable;
  encryption_certificates: EncryptionCertificatesTable;
  subscriptions: SubscriptionsTable;
  inbox: InboxTable;
  validation_tokens: ValidationTokensTable;
  seen_messages: SeenMessagesTable;
  poll_watermarks: PollWatermarksTable;
  emergencies: EmergenciesTable;
  emergency_events: EmergencyEventsTable;
  ack_tokens: AckTokensTable;
  alert_channels: AlertChannelsTable;
  alert_policies: AlertPoliciesTable;
  alert_templates: AlertTemplatesTable;
  alert_deliveries: AlertDeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  alert_throttle: AlertThrottleTable;
  detection_rules: DetectionRulesTable;
  drills: DrillsTable;
  drill_captures: DrillCapturesTable;
  web_accounts: WebAccountsTable;
  web_sessions: WebSessionsTable;
  web_login_throttle: WebLoginThrottleTable;
  web_audit_log: WebAuditLogTable;
}

export type Engine = "sqlite" | "postgres";
