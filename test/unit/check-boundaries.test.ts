import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../../scripts/check-boundaries.mjs", import.meta.url));

function checkTree(files: Record<string, string>): { status: number | null; output: string } {
  const root = mkdtempSync(path.join(tmpdir(), "relay-boundaries-"));
  try {
    writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "teams-emergency-relay" }));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
      writeFileSync(path.join(root, name), text);
    }
    const result = spawnSync(process.execPath, [script, root], { encoding: "utf8" });
    return { status: result.status, output: result.stdout + result.stderr };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("check-boundaries", () => {
  it("accepts the allowed directions", () => {
    const { status, output } = checkTree({
      "src/core/clock.ts": "export const x = 1;\n",
      "src/core/policy.ts": 'import { x } from "./clock.ts";\nimport type { Buffer } from "node:buffer";\n',
      "src/flows/flow.ts": 'import { x } from "../core/clock.ts";\nimport fs from "node:fs";\n',
      "emulator/server.ts": 'import https from "node:https";\nimport { y } from "./state.ts";\n',
    });
    assert.equal(status, 0, output);
  });

  it("lists every violation, including re-exports, dynamic and type-only imports", () => {
    const { status, output } = checkTree({
      "src/core/a.ts": [
        'import { readFileSync } from "node:fs";',
        'import { type Kysely } from "kysely";',
        'export { thing } from "../flows/thing.ts";',
        'import crypto from "crypto";',
        "",
      ].join("\n"),
      "src/core/b.ts": 'import { type Foo, bar } from "node:path";\n',
      "emulator/c.ts":
        'import type { Config } from "../src/config.ts";\nconst m = await import("../src/main.ts");\n',
      "emulator/d.ts": 'export * from "teams-emergency-relay/src/core/errors.ts";\n',
    });
    assert.equal(status, 1);
    const expected = [
      'src/core/a.ts:1: src/core/ imports Node builtin "node:fs"',
      'src/core/a.ts:2: src/core/ imports package "kysely"',
      'src/core/a.ts:3: src/core/ imports outside src/core/ ("../flows/thing.ts")',
      'src/core/a.ts:4: src/core/ imports Node builtin "crypto"',
      'src/core/b.ts:1: src/core/ imports Node builtin "node:path"',
      'emulator/c.ts:1: emulator/ must not import from src/ ("../src/config.ts")',
      'emulator/c.ts:2: emulator/ must not import from src/ ("../src/main.ts")',
      'emulator/d.ts:1: emulator/ must not import from src/ ("teams-emergency-relay/src/core/errors.ts")',
    ];
    for (const line of expected) assert.ok(output.includes(line), `missing: ${line}\n${output}`);
    assert.match(output, /violations \(8\)/);
  });
});
