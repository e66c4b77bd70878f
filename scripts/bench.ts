// Runs every bench/*.bench.ts in its own process; each prints its figures next to a baseline measured in the same run.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";

const dir = path.resolve(import.meta.dirname, "../bench");
const filter = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts") && (filter.length === 0 || filter.some((f2) => f.includes(f2))))
  .sort();
if (files.length === 0) {
  console.log(
    "No benchmarks yet: the intake and end-to-end benchmarks arrive with the intake issue (bench/*.bench.ts).",
  );
  process.exit(0);
}
let failed = 0;
for (const file of files) {
  console.log(`\n== ${file}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, file)], { stdio: "inherit" });
  if (result.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
