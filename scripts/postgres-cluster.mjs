// A throwaway PostgreSQL cluster for tests and benchmarks: temporary data directory, loopback TCP only,
// random port and password, durability off. Used by scripts/test.mjs; reusable by any script.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, appendFileSync, chmodSync, chownSync, constants, mkdtempSync } from "node:fs";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

const INSTALL_HINT =
  "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or in /usr/lib/postgresql/*/bin.\n" +
  "The test suite runs against a real PostgreSQL. Install it, e.g. `apt-get install -y postgresql` on Debian.";

/**
 * Starts a cluster and creates `database`. Returns `{ url, port, version, startMs, stop }`; `stop()` is
 * synchronous (so it also works from signal and exit handlers) and idempotent.
 */
export async function startPostgresCluster({ database = "postgres", log = () => {} } = {}) {
  const binDir = findPostgresBinDir();
  if (binDir === undefined) throw new Error(INSTALL_HINT);
  const started = Date.now();
  const runAs = postgresRunner();
  const baseDir = mkdtempSync(path.join(tmpdir(), "relay-pg-"));
  const dataDir = path.join(baseDir, "data");
  const logFile = path.join(baseDir, "postgres.log");
  const password = randomBytes(18).toString("base64url");
  let running = false;

  const stop = () => {
    if (running) {
      running = false;
      runAs.exec(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", "immediate", "-w", "stop"], baseDir);
    }
    rmSync(baseDir, { recursive: true, force: true });
  };

  try {
    runAs.own(baseDir, 0o700);
    writeFileSync(path.join(baseDir, "pwfile"), `${password}\n`);
    runAs.own(path.join(baseDir, "pwfile"), 0o600);
    const init = runAs.exec(
      path.join(binDir, "initdb"),
      ["-D", dataDir, "-U", "postgres", "--pwfile", path.join(baseDir, "pwfile")].concat([
        "--auth-local=scram-sha-256",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
      ]),
      baseDir,
    );
    if (init.status !== 0) throw new Error(`initdb failed:\n${init.output}`);
    const version = readFileSync(path.join(dataDir, "PG_VERSION"), "utf8").trim();

    let lastFailure = "";
    for (let attempt = 1; attempt <= 3 && !running; attempt++) {
      const port = await freePort();
      // Appended settings win over earlier ones, so a retry only needs to append the new port.
      appendFileSync(path.join(dataDir, "postgresql.conf"), settings(port));
      const start = runAs.exec(
        path.join(binDir, "pg_ctl"),
        ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"],
        baseDir,
      );
      if (start.status === 0) {
        running = true;
        const url = `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;
        if (database !== "postgres") await createDatabase(url, database);
        const startMs = Date.now() - started;
        log(`postgres ${version} on 127.0.0.1:${port} ready in ${startMs} ms (${binDir})`);
        return { url, port, version, startMs, stop };
      }
      lastFailure = `${start.output}\n${tail(logFile)}`;
    }
    throw new Error(`PostgreSQL did not start:\n${lastFailure}`);
  } catch (error) {
    stop();
    throw error;
  }
}

function settings(port) {
  return [
    "",
    "# relay test cluster",
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    // TCP on loopback only; no Unix socket for other local users to find.
    "unix_socket_directories = ''",
    // Throwaway data: durability only costs time here.
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    // Test files run in parallel, each with its own pools and databases.
    "max_connections = 300",
    "",
  ].join("\n");
}

async function createDatabase(url, database) {
  const admin = new URL(url);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

/** The first directory holding both initdb and pg_ctl: PATH first, then Debian's versioned dirs, newest first. */
export function findPostgresBinDir() {
  const fromPath = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  let debian = [];
  try {
    debian = readdirSync("/usr/lib/postgresql")
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    // Not Debian, or PostgreSQL not installed there.
  }
  return [...fromPath, ...debian].find(
    (dir) => isExecutable(path.join(dir, "initdb")) && isExecutable(path.join(dir, "pg_ctl")),
  );
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL refuses to run as root, so as root everything runs as the `postgres` user through runuser. */
function postgresRunner() {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    return { own: (p, mode) => chmodSync(p, mode), exec: (cmd, args, cwd) => run(cmd, args, cwd) };
  }
  const id = (flag) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
  const uid = id("-u");
  const gid = id("-g");
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error("Running as root, but there is no `postgres` user to run PostgreSQL as. " + INSTALL_HINT);
  }
  const [u, g] = [Number(uid.stdout.trim()), Number(gid.stdout.trim())];
  return {
    own: (p, mode) => {
      chownSync(p, u, g);
      chmodSync(p, mode);
    },
    exec: (cmd, args, cwd) => run("runuser", ["-u", "postgres", "--", cmd, ...args], cwd),
  };
}

function run(cmd, args, cwd) {
  const result = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? String(result.error) : ""}`;
  return { status: result.status, output };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function tail(file) {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "";
  }
}
