// `npm test [-- <filters...>] [-- --node-test-option=value...]`
// Runs every test/**/*.test.ts (Node 20 cannot glob in --test) against one throwaway PostgreSQL cluster.
// A filter is a file or directory (`test/storage`) or a substring of a test file's path (`config`).
// Arguments starting with `-` go to `node --test`; give their values with `=`.
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { constants } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPostgresCluster } from "./postgres-cluster.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const nodeOptions = args.filter((a) => a.startsWith("-"));
const filters = args.filter((a) => !a.startsWith("-"));

const files = selectFiles(findTestFiles(path.join(root, "test")), filters);
if (files.length === 0) {
  console.error(`No test files match ${filters.length ? filters.join(" ") : "test/**/*.test.ts"}`);
  process.exit(1);
}

let cluster;
try {
  cluster = await startPostgresCluster({
    database: "relay_test",
    log: (line) => console.error(`[test] ${line}`),
  });
} catch (error) {
  console.error(`[test] ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
// Last resort; stop() is synchronous and idempotent.
process.on("exit", () => cluster.stop());

const defaults = nodeOptions.some((o) => o.startsWith("--test-timeout")) ? [] : ["--test-timeout=120000"];
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-reporter=spec", ...defaults, ...nodeOptions, ...files],
  { cwd: root, stdio: "inherit", env: { ...process.env, RELAY_TEST_DATABASE_URL: cluster.url } },
);

let interrupted = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    // First signal: let the tests clean up; second: stop waiting.
    child.kill(++interrupted > 1 ? "SIGKILL" : signal);
  });
}

child.on("exit", (code, signal) => {
  cluster.stop();
  process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
});

function findTestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTestFiles(full));
    else if (entry.isFile() && entry.name.endsWith(".test.ts")) found.push(full);
  }
  return found.sort();
}

function selectFiles(all, filters) {
  if (filters.length === 0) return all.map((f) => path.relative(root, f));
  const selected = new Set();
  for (const filter of filters) {
    const asPath = path.resolve(filter);
    const isPath = exists(asPath);
    const matches = all.filter((f) =>
      isPath ? f === asPath || f.startsWith(asPath + path.sep) : path.relative(root, f).includes(filter),
    );
    if (matches.length === 0) {
      console.error(`[test] no test file matches ${filter}`);
      process.exit(1);
    }
    for (const f of matches) selected.add(path.relative(root, f));
  }
  return [...selected];
}

function exists(p) {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
