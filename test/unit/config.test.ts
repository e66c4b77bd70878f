import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../src/config.ts";
import { ConfigError, RelayError, httpStatusFor } from "../../src/core/errors.ts";

const cwd = "/srv/relay";
const HEX_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

function configError(env: Record<string, string>, options = {}): ConfigError {
  try {
    loadConfig(env, { cwd, ...options });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("loadConfig accepted the configuration");
}

describe("loadConfig", () => {
  it("uses the documented defaults for an empty environment", () => {
    const config = loadConfig({}, { cwd });
    assert.deepEqual(config, {
      dataDir: "/srv/relay/.data",
      database: { engine: "sqlite", file: "/srv/relay/.data/relay.db" },
      publicUrl: undefined,
      port: 443,
      host: "0.0.0.0",
      loginBaseUrl: "https://login.microsoftonline.com",
      graphBaseUrl: "https://graph.microsoft.com",
      jwksUrl: "https://login.microsoftonline.com/common/discovery/v2.0/keys",
      microsoftCaFile: undefined,
      microsoftTimeoutMs: 10_000,
      pollIntervalMs: 300_000,
      workLeaseMs: 120_000,
      tls: undefined,
      trustProxy: false,
      graphAllowedCidrs: [],
      adminToken: undefined,
      encryptionKey: undefined,
      logLevel: "info",
      allowPrivateTargets: false,
      webexBaseUrl: "https://webexapis.com/v1",
      twilioBaseUrl: "https://api.twilio.com",
      channelTimeoutMs: 10_000,
      sessionAbsoluteMs: 12 * 3_600_000,
      sessionIdleMs: 60 * 60_000,
      initialAdminPassword: undefined,
    });
  });

  it("parses every setting", () => {
    const config = loadConfig(
      {
        RELAY_DATA_DIR: "/var/lib/relay",
        RELAY_DATABASE_URL: "postgresql://relay:pw@db.internal:5432/relay",
        RELAY_PUBLIC_URL: "https://relay.example.com",
        RELAY_PORT: "8443",
        RELAY_HOST: "127.0.0.1",
        RELAY_LOGIN_BASE_URL: "https://127.0.0.1:4443",
        RELAY_GRAPH_BASE_URL: "http://localhost:4444/graph",
        RELAY_JWKS_URL: "https://127.0.0.1:4443/common/discovery/v2.0/keys",
        RELAY_MICROSOFT_CA_FILE: "emulator-ca.pem",
        RELAY_TLS_CERT_FILE: "/etc/relay/cert.pem",
        RELAY_TLS_KEY_FILE: "/etc/relay/key.pem",
        RELAY_TRUST_PROXY: "YES",
        RELAY_GRAPH_ALLOWED_CIDRS: "52.96.0.0/14, 2603:1000::/24,",
        RELAY_ADMIN_TOKEN: "a".repeat(32),
        RELAY_ENCRYPTION_KEY: HEX_KEY,
        RELAY_LOG_LEVEL: "debug",
        RELAY_ALLOW_PRIVATE_TARGETS: "true",
        RELAY_WEBEX_BASE_URL: "http://127.0.0.1:9001/v1/",
        RELAY_TWILIO_BASE_URL: "https://twilio.internal.example.com",
        RELAY_CHANNEL_TIMEOUT_MS: "2500",
        RELAY_SESSION_TTL_HOURS: "8",
        RELAY_SESSION_IDLE_MINUTES: "15",
        RELAY_INITIAL_ADMIN_PASSWORD: " correct horse battery staple ",
      },
      { cwd, requirePublicUrl: true },
    );
    assert.equal(config.dataDir, "/var/lib/relay");
    assert.deepEqual(config.database, {
      engine: "postgres",
      url: "postgresql://relay:pw@db.internal:5432/relay",
    });
    assert.equal(config.port, 8443);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.graphBaseUrl, "http://localhost:4444/graph");
    assert.equal(config.microsoftCaFile, "/srv/relay/emulator-ca.pem");
    assert.deepEqual(config.tls, { certFile: "/etc/relay/cert.pem", keyFile: "/etc/relay/key.pem" });
    assert.equal(config.trustProxy, true);
    assert.deepEqual(
      config.graphAllowedCidrs.map((r) => r.text),
      ["52.96.0.0/14", "2603:1000::/24"],
    );
    assert.equal(config.adminToken, "a".repeat(32));
    assert.deepEqual(config.encryptionKey, Buffer.from(HEX_KEY, "hex"));
    assert.equal(config.logLevel, "debug");
    assert.equal(config.allowPrivateTargets, true);
    assert.equal(config.webexBaseUrl, "http://127.0.0.1:9001/v1");
    assert.equal(config.twilioBaseUrl, "https://twilio.internal.example.com");
    assert.equal(config.channelTimeoutMs, 2500);
    assert.equal(config.sessionAbsoluteMs, 8 * 3_600_000);
    assert.equal(config.sessionIdleMs, 15 * 60_000);
    // Passwords are taken exactly as written.
    assert.equal(config.initialAdminPassword, " correct horse battery staple ");
  });

  it("refuses a weak initial admin password without echoing it", () => {
    const error = configError({ RELAY_INITIAL_ADMIN_PASSWORD: "hunter2", RELAY_SESSION_TTL_HOURS: "0" });
    assert.deepEqual(error.problems.map((p) => p.key).sort(), [
      "RELAY_INITIAL_ADMIN_PASSWORD",
      "RELAY_SESSION_TTL_HOURS",
    ]);
    assert.doesNotMatch(error.message, /hunter2/);
  });

  it("accepts the encryption key as base64 too", () => {
    const base64 = Buffer.from(HEX_KEY, "hex").toString("base64");
    assert.deepEqual(
      loadConfig({ RELAY_ENCRYPTION_KEY: base64 }, { cwd }).encryptionKey,
      Buffer.from(HEX_KEY, "hex"),
    );
  });

  it("treats empty values as unset", () => {
    const config = loadConfig({ RELAY_PORT: "", RELAY_ADMIN_TOKEN: "  ", RELAY_DATABASE_URL: "" }, { cwd });
    assert.equal(config.port, 443);
    assert.equal(config.adminToken, undefined);
    assert.equal(config.database.engine, "sqlite");
  });

  it("lists every bad key in one error", () => {
    const error = configError({
      RELAY_DATABASE_URL: "mysql://db/relay",
      RELAY_PUBLIC_URL: "not a url",
      RELAY_PORT: "65536",
      RELAY_LOGIN_BASE_URL: "http://login.example.com",
      RELAY_GRAPH_BASE_URL: "ftp://graph.example.com",
      RELAY_JWKS_URL: "https://login.example.com/keys?x=1",
      RELAY_TLS_CERT_FILE: "/etc/relay/cert.pem",
      RELAY_TRUST_PROXY: "maybe",
      RELAY_GRAPH_ALLOWED_CIDRS: "10.0.0.0/8,10.0.0.0/33",
      RELAY_ADMIN_TOKEN: "short",
      RELAY_ENCRYPTION_KEY: "abcd",
      RELAY_LOG_LEVEL: "verbose",
    });
    const keys = error.problems.map((p) => p.key).sort();
    assert.deepEqual(keys, [
      "RELAY_ADMIN_TOKEN",
      "RELAY_DATABASE_URL",
      "RELAY_ENCRYPTION_KEY",
      "RELAY_GRAPH_ALLOWED_CIDRS",
      "RELAY_GRAPH_BASE_URL",
      "RELAY_JWKS_URL",
      "RELAY_LOGIN_BASE_URL",
      "RELAY_LOG_LEVEL",
      "RELAY_PORT",
      "RELAY_PUBLIC_URL",
      "RELAY_TLS_KEY_FILE",
      "RELAY_TRUST_PROXY",
    ]);
    for (const key of keys) assert.match(error.message, new RegExp(`^  - ${key}: `, "m"));
    assert.equal(error.code, "ERR_CONFIG");
    assert.ok(error instanceof RelayError);
    assert.equal(error.httpStatus, 500);
    assert.equal(httpStatusFor("ERR_VALIDATION"), 400);
  });

  it("rejects each malformed port", () => {
    for (const port of ["0", "65536", "80.5", "-1", "abc", "1e3"]) {
      assert.deepEqual(
        configError({ RELAY_PORT: port }).problems.map((p) => p.key),
        ["RELAY_PORT"],
        port,
      );
    }
  });

  it("never echoes secret values", () => {
    const secrets = {
      RELAY_ADMIN_TOKEN: "hunter2-but-too-short",
      RELAY_ENCRYPTION_KEY: "TopSecretKeyMaterialThatIsWrong!",
      RELAY_DATABASE_URL: "mysql://relay:Sup3rS3cretPw@db.internal/relay",
    };
    const error = configError(secrets);
    assert.equal(error.problems.length, 3);
    const rendered = `${error.message}\n${JSON.stringify(error.problems)}\n${String(error.stack)}`;
    for (const needle of ["hunter2", "TopSecretKeyMaterial", "Sup3rS3cretPw"]) {
      assert.ok(!rendered.includes(needle), `error output contains ${needle}`);
    }
  });

  it("never echoes the password of an unusable PostgreSQL URL", () => {
    const error = configError({ RELAY_DATABASE_URL: "postgres://relay:Sup3rS3cretPw@db.internal" });
    assert.deepEqual(
      error.problems.map((p) => p.key),
      ["RELAY_DATABASE_URL"],
    );
    assert.ok(!error.message.includes("Sup3rS3cretPw"));
  });

  it("normalizes URLs by dropping trailing slashes", () => {
    const config = loadConfig(
      {
        RELAY_PUBLIC_URL: "HTTPS://Relay.Example.com:443/",
        RELAY_LOGIN_BASE_URL: "https://login.example.com/tenant-base//",
        RELAY_GRAPH_BASE_URL: "http://127.0.0.1:8080/",
      },
      { cwd },
    );
    assert.equal(config.publicUrl, "https://relay.example.com");
    assert.equal(config.loginBaseUrl, "https://login.example.com/tenant-base");
    assert.equal(config.graphBaseUrl, "http://127.0.0.1:8080");
  });

  it("allows plain http only on loopback and refuses credentials in URLs", () => {
    assert.equal(
      loadConfig({ RELAY_PUBLIC_URL: "http://localhost:3000" }, { cwd }).publicUrl,
      "http://localhost:3000",
    );
    const error = configError({
      RELAY_PUBLIC_URL: "http://relay.example.com",
      RELAY_GRAPH_BASE_URL: "https://user:pw@graph.example.com",
    });
    assert.deepEqual(error.problems.map((p) => p.key).sort(), ["RELAY_GRAPH_BASE_URL", "RELAY_PUBLIC_URL"]);
    assert.match(error.message, /RELAY_PUBLIC_URL: must use https/);
  });

  it("requires the public URL only when asked to", () => {
    assert.equal(loadConfig({}, { cwd }).publicUrl, undefined);
    const error = configError({ RELAY_PORT: "x" }, { requirePublicUrl: true });
    assert.deepEqual(error.problems.map((p) => p.key).sort(), ["RELAY_PORT", "RELAY_PUBLIC_URL"]);
  });

  it("selects the SQLite file from a sqlite: URL", () => {
    const file = (url: string) => {
      const { database } = loadConfig({ RELAY_DATABASE_URL: url }, { cwd });
      assert.equal(database.engine, "sqlite");
      return database.file;
    };
    assert.equal(file("sqlite:data/x.db"), "/srv/relay/data/x.db");
    assert.equal(file("sqlite:///var/lib/relay/x.db"), "/var/lib/relay/x.db");
    assert.equal(file("sqlite:"), "/srv/relay/.data/relay.db");
  });

  it("requires both TLS files or neither", () => {
    assert.deepEqual(
      configError({ RELAY_TLS_KEY_FILE: "key.pem" }).problems.map((p) => p.key),
      ["RELAY_TLS_CERT_FILE"],
    );
  });

  it("allows every source on the Graph routes unless RELAY_GRAPH_ALLOWED_CIDRS lists ranges", () => {
    assert.deepEqual(loadConfig({ RELAY_GRAPH_ALLOWED_CIDRS: " , " }, { cwd }).graphAllowedCidrs, []);
    assert.deepEqual(
      loadConfig({ RELAY_GRAPH_ALLOWED_CIDRS: "127.0.0.1,::1" }, { cwd }).graphAllowedCidrs.map(
        (r) => r.text,
      ),
      ["127.0.0.1/32", "::1/128"],
    );
  });

  it("names the position of each bad RELAY_GRAPH_ALLOWED_CIDRS entry without echoing it", () => {
    const { problems } = configError({
      RELAY_GRAPH_ALLOWED_CIDRS: "10.0.0.0/8, 192.168.1.1/24, 2001:db8::/32, secret-host",
    });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.key, "RELAY_GRAPH_ALLOWED_CIDRS");
    assert.match(problems[0]!.reason, /CIDR ranges such as 10\.0\.0\.0\/8/);
    assert.match(problems[0]!.reason, /entries 2, 4 of 4 are not/);
    assert.ok(!problems[0]!.reason.includes("secret-host"));
    assert.ok(!problems[0]!.reason.includes("192.168.1.1"));
  });

  it("rejects bad alert channel settings, each under its own key", () => {
    const error = configError({
      RELAY_ALLOW_PRIVATE_TARGETS: "sometimes",
      RELAY_WEBEX_BASE_URL: "http://webex.example.com",
      RELAY_TWILIO_BASE_URL: "not a url",
      RELAY_CHANNEL_TIMEOUT_MS: "50",
    });
    assert.deepEqual(error.problems.map((p) => p.key).sort(), [
      "RELAY_ALLOW_PRIVATE_TARGETS",
      "RELAY_CHANNEL_TIMEOUT_MS",
      "RELAY_TWILIO_BASE_URL",
      "RELAY_WEBEX_BASE_URL",
    ]);
    assert.match(error.message, /RELAY_CHANNEL_TIMEOUT_MS: must be an integer from 100 to 120000/);
  });
});
