import type { Migration, MigrationProvider } from "kysely";
import type { Engine } from "../schema.ts";
import { foundation } from "./0001-foundation.ts";
import { connections } from "./0002-connections.ts";
import { intake } from "./0003-intake.ts";
import { notificationMode } from "./0004-notification-mode.ts";
import { alerts } from "./0005-alerts.ts";
import { detection } from "./0006-detection.ts";
import { web } from "./0007-web.ts";
import { validationTokens } from "./0008-validation-tokens.ts";

/**
 * Every migration, compiled into the app so nothing globs the file system at runtime. Names sort in the order
 * they run; never rename or edit one that has shipped, add a new one.
 *
 * Kysely does not tell a migration which dialect it runs on (by design), so each factory receives the engine
 * and may branch where the two disagree. Each migration runs in a transaction on both engines. On SQLite,
 * dropping a table that others reference cascades (foreign keys are on, and the pragma cannot change inside a
 * transaction), so prefer ADD COLUMN and new tables over the drop-and-copy table rebuild.
 */
const MIGRATIONS: Readonly<Record<string, (engine: Engine) => Migration>> = {
  "0001-foundation": foundation,
  "0002-connections": connections,
  "0003-intake": intake,
  "0004-notification-mode": notificationMode,
  "0005-alerts": alerts,
  "0006-detection": detection,
  "0007-web": web,
  "0008-validation-tokens": validationTokens,
};

export function migrationProvider(engine: Engine): MigrationProvider {
  return {
    async getMigrations() {
      return Object.fromEntries(Object.entries(MIGRATIONS).map(([name, build]) => [name, build(engine)]));
    },
  };
}
