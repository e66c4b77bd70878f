import path from "node:path";
import { parseCidrList, type CidrRange } from "./core/cidr.ts";
import { ConfigError, type ConfigProblem } from "./core/errors.ts";
import { passwordProblem } from "./core/password-policy.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type DatabaseConfig = { engine: "sqlite"; file: string } | { engine: "postgres"; url: string };

export interface Config {
  /** Absolute path. */
  dataDir: string;
  database: DatabaseConfig;
  /** Origin (and optional path prefix) Microsoft and browsers reach us at, without trailing slash. */
  publicUrl: string | undefined;
  port: number;
  host: string;
  loginBaseUrl: string;
  graphBaseUrl: string;
  jwksUrl: string;
  microsoftCaFile: string | undefined;
  /** Per-request timeout towards Entra ID and Graph. */
  microsoftTimeoutMs: number;
  /** How often each org's chats are polled as the safety net behind webhooks. */
  pollIntervalMs: number;
  /** How long claimed work (inbox items, message hand-offs) stays with its worker before another may take it over. */
  workLeaseMs: number;
  tls: { certFile: string; keyFile: string } | undefined;
  trustProxy: boolean;
  /** Sources allowed on Graph's webhook routes; empty allows every source. */
  graphAllowedCidrs: CidrRange[];
  adminToken: string | undefined;
  /** 32 bytes for AES-256-GCM. */
  encryptionKey: Buffer | undefined;
  logLevel: LogLevel;
  /** Alert channels may send to http and to private, loopback and link-local addresses (local receivers, demo). */
  allowPrivateTargets: boolean;
  webexBaseUrl: string;
  twilioBaseUrl: string;
  /** Per-attempt timeout of an alert channel send (DNS, connect, TLS, request and answer). */
  channelTimeoutMs: number;
  /** Web-app sessions end this long after sign-in, whatever the activity. */
  sessionAbsoluteMs: number;
  /** ... and after this long without a request. */
  sessionIdleMs: number;
  /** Password of the first admin account (`admin`), created when no account exists; generated when unset. */
  initialAdminPassword: string | undefined;
}

export interface LoadConfigOptions {
  /** `serve` needs a public URL for redirect URIs and webhook registration; other commands do not. */
  requirePublicUrl?: boolean;
  /** Base for relative paths; defaults to the process working directory. */
  cwd?: string;
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const MIN_ADMIN_TOKEN_LENGTH = 32;

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  options: LoadConfigOptions = {},
): Config {
  const problems: ConfigProblem[] = [];
  const reader = new EnvReader(env, problems);
  const cwd = options.cwd ?? process.cwd();

  const dataDir = path.resolve(cwd, reader.string("RELAY_DATA_DIR") ?? "./.data");
  const config: Config = {
    dataDir,
    database: reader.database("RELAY_DATABASE_URL", dataDir, cwd),
    publicUrl: reader.url("RELAY_PUBLIC_URL", undefined),
    port: reader.port("RELAY_PORT", 443),
    host: reader.string("RELAY_HOST") ?? "0.0.0.0",
    loginBaseUrl: reader.url("RELAY_LOGIN_BASE_URL", "https://login.microsoftonline.com"),
    graphBaseUrl: reader.url("RELAY_GRAPH_BASE_URL", "https://graph.microsoft.com"),
    jwksUrl: reader.url("RELAY_JWKS_URL", "https://login.microsoftonline.com/common/discovery/v2.0/keys"),
    microsoftCaFile: reader.path("RELAY_MICROSOFT_CA_FILE", cwd),
    microsoftTimeoutMs: reader.integer("RELAY_MICROSOFT_TIMEOUT_MS", 10_000, 100, 120_000),
    pollIntervalMs: reader.integer("RELAY_POLL_INTERVAL_SECONDS", 300, 30, 86_400) * 1000,
    workLeaseMs: reader.integer("RELAY_WORK_LEASE_SECONDS", 120, 5, 3_600) * 1000,
    tls: reader.tls("RELAY_TLS_CERT_FILE", "RELAY_TLS_KEY_FILE", cwd),
    trustProxy: reader.boolean("RELAY_TRUST_PROXY", false),
    graphAllowedCidrs: reader.cidrList("RELAY_GRAPH_ALLOWED_CIDRS"),
    adminToken: reader.adminToken("RELAY_ADMIN_TOKEN"),
    encryptionKey: reader.encryptionKey("RELAY_ENCRYPTION_KEY"),
    logLevel: reader.logLevel("RELAY_LOG_LEVEL", "info"),
    allowPrivateTargets: reader.boolean("RELAY_ALLOW_PRIVATE_TARGETS", false),
    webexBaseUrl: reader.url("RELAY_WEBEX_BASE_URL", "https://webexapis.com/v1"),
    twilioBaseUrl: reader.url("RELAY_TWILIO_BASE_URL", "https://api.twilio.com"),
    channelTimeoutMs: reader.integer("RELAY_CHANNEL_TIMEOUT_MS", 10_000, 100, 120_000),
    sessionAbsoluteMs: reader.integer("RELAY_SESSION_TTL_HOURS", 12, 1, 720) * 3_600_000,
    sessionIdleMs: reader.integer("RELAY_SESSION_IDLE_MINUTES", 60, 5, 1440) * 60_000,
    initialAdminPassword: reader.initialAdminPassword("RELAY_INITIAL_ADMIN_PASSWORD"),
  };
  if (options.requirePublicUrl && config.publicUrl === undefined && !reader.failed("RELAY_PUBLIC_URL")) {
    problems.push({
      key: "RELAY_PUBLIC_URL",
      reason: "is required to serve (https://your-relay.example.com)",
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * Reads one key at a time, records every problem instead of throwing, and returns a placeholder so parsing
 * continues and the final error lists every bad key. Reasons describe the expected form and never echo values,
 * because several keys hold secrets.
 */
class EnvReader {
  readonly #env: Record<string, string | undefined>;
  readonly #problems: ConfigProblem[];

  constructor(env: Record<string, string | undefined>, problems: ConfigProblem[]) {
    this.#env = env;
    this.#problems = problems;
  }

  failed(key: string): boolean {
    return this.#problems.some((p) => p.key === key);
  }

  /** Empty and whitespace-only values count as unset, as `KEY=` lines in env files mean "not configured". */
  string(key: string): string | undefined {
    const value = this.#env[key]?.trim();
    return value === undefined || value === "" ? undefined : value;
  }

  port(key: string, fallback: number): number {
    const raw = this.string(key);
    if (raw === undefined) return fallback;
    const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    if (port >= 1 && port <= 65535) return port;
    return this.#problem(key, "must be an integer from 1 to 65535", fallback);
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    const raw = this.string(key);
    if (raw === undefined) return fallback;
    const value = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (value >= min && value <= max) return value;
    return this.#problem(key, `must be an integer from ${min} to ${max}`, fallback);
  }

  boolean(key: string, fallback: boolean): boolean {
    const raw = this.string(key)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (["true", "1", "yes"].includes(raw)) return true;
    if (["false", "0", "no"].includes(raw)) return false;
    return this.#problem(key, "must be one of true, false, 1, 0, yes, no", fallback);
  }

  logLevel(key: string, fallback: LogLevel): LogLevel {
    const raw = this.string(key)?.toLowerCase();
    if (raw === undefined) return fallback;
    if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw as LogLevel;
    return this.#problem(key, `must be one of ${LOG_LEVELS.join(", ")}`, fallback);
  }

  path(key: string, cwd: string): string | undefined {
    const raw = this.string(key);
    return raw === undefined ? undefined : path.resolve(cwd, raw);
  }

  tls(certKey: string, keyKey: string, cwd: string): Config["tls"] {
    const certFile = this.path(certKey, cwd);
    const keyFile = this.path(keyKey, cwd);
    if (certFile !== undefined && keyFile !== undefined) return { certFile, keyFile };
    if (certFile !== undefined) this.#problem(keyKey, `must be set when ${certKey} is set`, undefined);
    if (keyFile !== undefined) this.#problem(certKey, `must be set when ${keyKey} is set`, undefined);
    return undefined;
  }

  /** https only, except plain http on loopback for local development and the emulator. No trailing slash. */
  url<T extends string | undefined>(key: string, fallback: T): string | T {
    const raw = this.string(key);
    if (raw === undefined) return fallback;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return this.#problem(key, "must be an absolute URL such as https://host.example.com", fallback);
    }
    if (url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname)) {
      return this.#problem(
        key,
        "must use https (http is only allowed for localhost and 127.0.0.1)",
        fallback,
      );
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return this.#problem(key, "must be an https URL", fallback);
    }
    if (url.username !== "" || url.password !== "") {
      return this.#problem(key, "must not contain credentials", fallback);
    }
    if (url.search !== "" || url.hash !== "") {
      return this.#problem(key, "must not contain a query string or fragment", fallback);
    }
    return url.href.replace(/\/+$/, "");
  }

  database(key: string, dataDir: string, cwd: string): DatabaseConfig {
    const fallback: DatabaseConfig = { engine: "sqlite", file: path.join(dataDir, "relay.db") };
    const raw = this.string(key);
    if (raw === undefined) return fallback;
    if (/^postgres(ql)?:\/\//i.test(raw)) {
      try {
        const url = new URL(raw);
        if (url.hostname === "" && !url.searchParams.has("host")) throw new Error("no host");
        if (url.pathname.length <= 1) throw new Error("no database");
      } catch {
        return this.#problem(
          key,
          "must be a PostgreSQL URL such as postgres://user:pass@host:5432/db",
          fallback,
        );
      }
      return { engine: "postgres", url: raw };
    }
    if (/^sqlite:/i.test(raw)) {
      // `sqlite:///abs/file.db` (three slashes, as in SQLAlchemy) and `sqlite:relative/file.db` both work.
      const file = raw.slice("sqlite:".length).replace(/^\/\//, "");
      return file === "" ? fallback : { engine: "sqlite", file: path.resolve(cwd, file) };
    }
    return this.#problem(key, "must start with postgres://, postgresql:// or sqlite:", fallback);
  }

  cidrList(key: string): CidrRange[] {
    const raw = this.string(key);
    if (raw === undefined) return [];
    const parsed = parseCidrList(raw);
    if (parsed.ok) return parsed.ranges;
    // Positions, not values: the same rule as every other key (reasons never echo what was configured).
    const count = raw.split(",").filter((entry) => entry.trim() !== "").length;
    const bad = parsed.badEntries.join(", ");
    const which = parsed.badEntries.length === 1 ? "entry" : "entries";
    const verb = parsed.badEntries.length === 1 ? "is" : "are";
    return this.#problem(
      key,
      "must be a comma-separated list of IPv4 or IPv6 CIDR ranges such as 10.0.0.0/8 or 2001:db8::/32, " +
        `without bits set beyond the prefix length (${which} ${bad} of ${count} ${verb} not)`,
      [],
    );
  }

  adminToken(key: string): string | undefined {
    const raw = this.string(key);
    if (raw === undefined || raw.length >= MIN_ADMIN_TOKEN_LENGTH) return raw;
    return this.#problem(key, `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters long`, undefined);
  }

  initialAdminPassword(key: string): string | undefined {
    // Taken as written (not trimmed), like any password; `string()` only decides whether it is set.
    if (this.string(key) === undefined) return undefined;
    const raw = this.#env[key]!;
    const problem = passwordProblem(raw, "admin");
    return problem === undefined ? raw : this.#problem(key, problem, undefined);
  }

  encryptionKey(key: string): Buffer | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    // Hex first: 64 hex characters are also valid base64, but of 48 bytes.
    if (/^[0-9a-f]{64}$/i.test(raw)) return Buffer.from(raw, "hex");
    if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw)) {
      const bytes = Buffer.from(raw, "base64");
      if (bytes.length === 32) return bytes;
    }
    return this.#problem(key, "must be 32 bytes written as base64 or as 64 hex characters", undefined);
  }

  #problem<T>(key: string, reason: string, placeholder: T): T {
    this.#problems.push({ key, reason });
    return placeholder;
  }
}
