import { boardCard, type BoardCard } from "../core/board-view-model.ts";
import type { EmergencyRecord } from "../core/emergency-record.ts";
import type { WebAppDeps } from "./web-app-deps.ts";

export interface BoardData {
  /** One emergency's card; undefined when it does not exist. */
  card(id: string): Promise<BoardCard | undefined>;
  /** Not acknowledged (open, or unrouted: nobody was notified, so the desk must see it), newest first. */
  open(): Promise<BoardCard[]>;
  /** Acknowledged in the last day, latest acknowledgement first. */
  recentlyAcknowledged(): Promise<BoardCard[]>;
}

const OPEN_LIMIT = 200;
const RECENT_WINDOW_MS = 24 * 3600_000;
const RECENT_SHOWN = 10;

export function createBoardData(deps: Pick<WebAppDeps, "alerting" | "orgs" | "clock">): BoardData {
  const { emergencies, deliveries } = deps.alerting;

  async function orgNames(): Promise<Map<string, string>> {
    return new Map((await deps.orgs.list()).map((o) => [o.id, o.name]));
  }

  async function cardOf(record: EmergencyRecord, names: Map<string, string>): Promise<BoardCard> {
    const [rows, timeline] = await Promise.all([
      deliveries.list({ emergencyId: record.id }),
      emergencies.timeline(record.id),
    ]);
    return boardCard({
      record,
      orgName: names.get(record.orgId) ?? record.orgId,
      deliveries: rows,
      timeline,
    });
  }

  return {
    async card(id) {
      const record = await emergencies.get(id);
      return record === undefined ? undefined : cardOf(record, await orgNames());
    },
    async open() {
      const [open, unrouted, names] = await Promise.all([
        emergencies.list({ state: "open", limit: OPEN_LIMIT }),
        emergencies.list({ state: "unrouted", limit: OPEN_LIMIT }),
        orgNames(),
      ]);
      const records = [...open, ...unrouted].sort(
        (a, b) => b.detectedAt - a.detectedAt || (a.id < b.id ? 1 : -1),
      );
      return Promise.all(records.map((r) => cardOf(r, names)));
    },
    async recentlyAcknowledged() {
      const since = deps.clock.now() - RECENT_WINDOW_MS;
      const [records, names] = await Promise.all([
        emergencies.list({ state: "acknowledged", limit: 50 }),
        orgNames(),
      ]);
      const recent = records
        .filter((r) => r.acknowledgement !== null && r.acknowledgement.at >= since)
        .sort((a, b) => b.acknowledgement!.at - a.acknowledgement!.at)
        .slice(0, RECENT_SHOWN);
      return Promise.all(recent.map((r) => cardOf(r, names)));
    },
  };
}
