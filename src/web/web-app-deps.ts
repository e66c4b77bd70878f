import type { ChannelDrivers } from "../core/alert-channel.ts";
import type { Clock } from "../core/clock.ts";
import type { Delivery, DeliveryAttempt } from "../core/delivery.ts";
import type { EmergencyFeed } from "../core/emergency-feed.ts";
import type {
  EmergencyFilter,
  EmergencyRecord,
  NewTimelineEvent,
  TimelineEvent,
} from "../core/emergency-record.ts";
import type { Org, OrgPatch, NewOrg } from "../core/org.ts";
import type { SessionLifetime } from "../core/session-policy.ts";
import type { Check } from "../doctor.ts";
import type { SubscriptionStatus } from "../flows/keep-subscriptions.ts";
import type { ConnectionStatus } from "../flows/keep-tokens.ts";
import type { Acknowledger } from "../flows/acknowledge-emergency.ts";
import type { TestAlertSender } from "../flows/send-test-alert.ts";
import type { AlertChannelStore } from "../storage/alert-channel-store.ts";
import type { AlertPolicyStore } from "../storage/alert-policy-store.ts";
import type { AlertTemplateStore } from "../storage/alert-template-store.ts";
import type { AccountStore } from "../storage/account-store.ts";
import type { AuditLogStore } from "../storage/audit-log-store.ts";
import type { LoginThrottleStore } from "../storage/login-throttle-store.ts";
import type { OperationalEvent } from "../storage/operational-event-store.ts";
import type { SessionStore } from "../storage/session-store.ts";
import type { PasswordHasher } from "./password-hasher.ts";

/** Everything the web app uses, injected by main.ts; narrow interfaces so tests can pass fakes. */
export interface WebAppDeps {
  clock: Clock;
  /** RELAY_PUBLIC_URL: redirect URIs, the default webhook URL, and whether cookies are `Secure`. */
  publicUrl: string;
  /** RELAY_LOGIN_BASE_URL: the Connect form is redirected there, so the CSP's form-action must allow it. */
  loginBaseUrl: string;
  /** RELAY_PORT and whether the relay itself serves HTTPS, for the wizard's network step. */
  inbound: { port: number; tls: boolean };
  sessionLifetime: SessionLifetime;
  accounts: AccountStore;
  sessions: SessionStore;
  loginThrottle: LoginThrottleStore;
  audit: AuditLogStore;
  hasher: PasswordHasher;
  orgs: {
    list(): Promise<Org[]>;
    get(id: string): Promise<Org | undefined>;
    create(input: NewOrg): Promise<Org>;
    update(id: string, patch: OrgPatch): Promise<Org>;
  };
  /** After an org update (the subscription keeper replaces the subscription when the webhook URL or mode changed). */
  onOrgUpdated?(org: Org, fields: readonly string[]): Promise<void>;
  connect: {
    start(orgId: string, options: { replaceUser?: boolean }): Promise<{ authorizeUrl: string }>;
  };
  tokens: {
    status(orgId: string): Promise<ConnectionStatus>;
    /** Refreshes now ("test connection"); failures end up in the status, not as a throw, for known causes. */
    refresh(orgId: string, reason: "manual"): Promise<unknown>;
  };
  subscriptions: {
    status(orgId: string): Promise<SubscriptionStatus[]>;
    /** Renews the org's subscription now (creates one when there is none). */
    renew(orgId: string): Promise<void>;
  };
  messageCounts(orgId: string): Promise<Record<string, number>>;
  events: { listRecent(options: { orgId?: string; limit: number }): Promise<OperationalEvent[]> };
  /** The doctor's checks for one org, run in-process (web/org-checks.ts). */
  runChecks(orgId: string): Promise<Check[]>;
  alerting: WebAlertingDeps;
}

/** The live board, history and alert configuration pages: the alerting stores and flows the admin API uses. */
export interface WebAlertingDeps {
  /** Changes to emergencies, from this process's stores and the change poller (other instances). */
  feed: EmergencyFeed;
  emergencies: {
    list(filter: EmergencyFilter): Promise<EmergencyRecord[]>;
    get(id: string): Promise<EmergencyRecord | undefined>;
    timeline(id: string): Promise<TimelineEvent[]>;
    addTimeline(events: readonly NewTimelineEvent[]): Promise<void>;
  };
  deliveries: {
    list(filter: { emergencyId?: string; limit?: number }): Promise<Delivery[]>;
    attempts(deliveryIds: readonly string[]): Promise<DeliveryAttempt[]>;
  };
  acknowledger: Pick<Acknowledger, "byWeb">;
  channels: AlertChannelStore;
  policies: AlertPolicyStore;
  templates: AlertTemplateStore;
  drivers: Pick<ChannelDrivers, "parse" | "describe">;
  testSender: TestAlertSender;
  /** Between the board stream's heartbeats (and session checks); default 15 s. */
  heartbeatMs?: number;
}
