import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { createEmulator, loadOrCreateLocalCa } from "../emulator/index.ts";
import { loadConfig } from "./config.ts";
import { RelayError } from "./core/errors.ts";
import { runDemo } from "./demo.ts";
import { runDoctor } from "./doctor.ts";
import { startRelay } from "./main.ts";
import { runParse } from "./parse-command.ts";
import { runRotateKey } from "./rotate-key-command.ts";
import { migrateToLatest } from "./storage/migrate.ts";
import { openDatabase } from "./storage/open-database.ts";

const USAGE = `Usage: teams-emergency-relay <command> [options]

Commands:
  serve      run the relay (configuration from RELAY_* environment variables; see README)
  demo       run the relay against a local Microsoft 365 emulator with a seeded tenant
  emulator   run the Microsoft 365 emulator alone
               --port P (default 8443)  --host H (default 127.0.0.1)  --tls-dir D (default ./.data/emulator-tls)
               --allow-http-webhooks    --trust-ca FILE (repeatable)  --no-auto-consent
  migrate    apply database migrations and exit
  doctor     check configuration, storage, Microsoft endpoints, the webhook (certificate, handshake) and each org
  parse      print the emergency found in a Teams chat message read from stdin (exit 0), or why it is not one
               (on stderr, exit 3); --rules FILE adds per-org detection rules; --help for details
  rotate-key re-seal every stored secret with a new RELAY_ENCRYPTION_KEY (--new-key-file FILE), instances stopped
`;

/** Stops on SIGINT/SIGTERM after closing what was started. */
function closeOnSignal(close: () => Promise<void>): void {
  let closing = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
}

async function emulatorCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "8443" },
      host: { type: "string", default: "127.0.0.1" },
      "tls-dir": { type: "string", default: "./.data/emulator-tls" },
      "allow-http-webhooks": { type: "boolean", default: false },
      "trust-ca": { type: "string", multiple: true, default: [] },
      "no-auto-consent": { type: "boolean", default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0-65535, got ${values.port}`);
  const tlsDir = path.resolve(values["tls-dir"]);
  const tls = await loadOrCreateLocalCa(tlsDir, {
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1", "::1", ...(values.host === "127.0.0.1" ? [] : [values.host])],
  });
  const trustedCaPems = await Promise.all(values["trust-ca"].map((file) => readFile(file, "utf8")));
  const emulator = await createEmulator({
    tls,
    host: values.host,
    port,
    allowHttpWebhooks: values["allow-http-webhooks"],
    trustedCaPems,
    autoConsent: !values["no-auto-consent"],
    log: (message, fields) =>
      console.log(JSON.stringify({ time: new Date().toISOString(), message, ...fields })),
  });
  console.log(`Microsoft 365 emulator listening on ${emulator.url}`);
  console.log(`url: ${emulator.url}`);
  console.log(`ca: ${tls.files.caCert}`);
  console.log(`  login base URL (RELAY_LOGIN_BASE_URL): ${emulator.url}`);
  console.log(`  Graph base URL (RELAY_GRAPH_BASE_URL): ${emulator.url}`);
  console.log(`  control API: ${emulator.url}/_emulator/ (see README)`);
  closeOnSignal(() => emulator.close());
}

async function serveCommand(): Promise<void> {
  const relay = await startRelay(loadConfig(process.env, { requirePublicUrl: true }));
  console.log(`relay listening on ${relay.url}`);
  if (relay.generatedAdminToken) {
    // Only its hash is stored: this is the one time it can be shown.
    console.log(`Admin API token (shown once, store it now): ${relay.generatedAdminToken}`);
  }
  if (relay.firstAdmin?.password) {
    // Only its scrypt hash is stored: this is the one time it can be shown.
    console.log(
      `Web app: sign in at ${relay.url}/login as "${relay.firstAdmin.username}" with password (shown once): ${relay.firstAdmin.password}`,
    );
  }
  closeOnSignal(() => relay.close());
}

async function migrateCommand(): Promise<void> {
  const config = loadConfig(process.env);
  const storage = await openDatabase(config.database);
  try {
    const applied = await migrateToLatest(storage.db, storage.engine);
    console.log(applied.length > 0 ? `applied: ${applied.join(", ")}` : "database is up to date");
  } finally {
    await storage.close();
  }
}

export async function runCli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "emulator":
      await emulatorCommand(rest);
      return -1;
    case "serve":
      await serveCommand();
      return -1;
    case "demo":
      await runDemo(rest, closeOnSignal);
      return -1;
    case "migrate":
      await migrateCommand();
      return 0;
    case "doctor":
      return runDoctor(process.env);
    case "parse":
      return runParse(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    case "rotate-key":
      return runRotateKey(rest, process.env, { stdout: process.stdout, stderr: process.stderr });
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`unknown command '${command}'\n\n${USAGE}`);
      return 1;
  }
}

try {
  const code = await runCli(process.argv.slice(2));
  if (code >= 0) process.exit(code);
} catch (error) {
  if (error instanceof RelayError) {
    console.error(error.message);
    process.exit(78);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
