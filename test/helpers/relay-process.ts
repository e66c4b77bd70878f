// Relay instances as real processes (`teams-emergency-relay serve`), for tests that kill, terminate or restart them.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { httpRequest } from "./http-request.ts";

const bin = path.resolve(import.meta.dirname, "../../bin/teams-emergency-relay.js");

export interface RelayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every line the process wrote to stdout (JSON log lines and the CLI's own lines). */
  readonly lines: string[];
  /** What it wrote to stderr (the start-up error, if it refused to start). */
  readonly stderr: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `/readyz` answers 200; rejects when the process exits first or `timeoutMs` passes. */
  ready(timeoutMs?: number): Promise<void>;
}

/** Starts `serve` with exactly `env` (plus PATH), listening on 127.0.0.1:`port`. */
export function spawnRelayProcess(
  env: Record<string, string>,
  port: number,
  onLine?: (line: string) => void,
): RelayProcess {
  const child = spawn(process.execPath, [bin, "serve"], {
    env: { PATH: process.env.PATH, RELAY_HOST: "127.0.0.1", RELAY_PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split("\n");
    buffered = complete.pop()!;
    for (const line of complete) {
      lines.push(line);
      onLine?.(line);
    }
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let exitedYet = false;
  void exited.then(() => (exitedYet = true));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    lines,
    stderr: () => stderr,
    exited,
    async ready(timeoutMs = 60_000) {
      await waitFor(
        `relay on port ${port} ready`,
        async () => {
          if (exitedYet) throw new Error(`relay on port ${port} exited while starting: ${stderr.trim()}`);
          const res = await httpRequest(`${url}/readyz`, { timeoutMs: 2000 }).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        timeoutMs,
      );
    },
  };
}

/**
 * Polls `probe` (real time: the relays are other processes) until it returns a value; a probe that throws ends the
 * wait with its error. Bounded by `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
