import type { FastifyInstance, FastifyRequest } from "fastify";
import { emergencyCsv } from "../core/emergency-csv.ts";
import { historyCursor, parseHistoryQuery, type HistoryValues } from "../core/history-query.ts";
import type { WebContext } from "./web-context.ts";
import { requirePermission } from "./web-request.ts";
import { historyView } from "./views/history-view.ts";

const PAGE_SIZE = 50;
// A spreadsheet is for a period's review, not a database dump; narrow the dates for more.
const MAX_EXPORT_ROWS = 10_000;

/** `GET /history` (filters, 50 a page) and `GET /history.csv` (the same filters, every row up to 10,000). */
export function registerHistoryPages(scope: FastifyInstance, context: WebContext): void {
  const { deps } = context;
  const read = { preHandler: requirePermission("board.read") };
  const query = (request: FastifyRequest) =>
    parseHistoryQuery((request.query ?? {}) as Record<string, unknown>);

  scope.get("/history", read, async (request, reply) => {
    const { values, filter, problems } = query(request);
    const [orgs, rows] = await Promise.all([
      deps.orgs.list(),
      deps.alerting.emergencies.list({ ...filter, limit: PAGE_SIZE + 1 }),
    ]);
    const shown = rows.slice(0, PAGE_SIZE);
    return context.send(
      reply,
      problems.length > 0 ? 400 : 200,
      historyView({
        viewer: context.viewer(request),
        flash: await context.takeFlash(request),
        orgs,
        values,
        problems,
        rows: shown,
        filterQuery: filterQuery(values),
        olderCursor: rows.length > PAGE_SIZE ? historyCursor(shown[PAGE_SIZE - 1]!) : undefined,
        paged: filter.before !== undefined,
      }),
    );
  });

  scope.get("/history.csv", read, async (request, reply) => {
    const { values, filter, problems } = query(request);
    if (problems.length > 0) return context.seeOther(reply, `/history?${filterQuery(values)}`);
    const { before: _paging, ...all } = filter;
    const [orgs, rows] = await Promise.all([
      deps.orgs.list(),
      deps.alerting.emergencies.list({ ...all, limit: MAX_EXPORT_ROWS }),
    ]);
    await context.audit(request, {
      action: "history.export",
      targetType: "emergencies",
      summary: `Exported ${rows.length} emergencies as CSV`,
      details: { filters: values },
    });
    const stamp = new Date(deps.clock.now())
      .toISOString()
      .slice(0, 16)
      .replace(/[-:]/g, "")
      .replace("T", "-");
    return reply
      .type("text/csv; charset=utf-8")
      .header("content-disposition", `attachment; filename="emergencies-${stamp}.csv"`)
      .send(`\uFEFF${emergencyCsv(rows, new Map(orgs.map((o) => [o.id, o.name])))}`);
  });
}

function filterQuery(values: HistoryValues): string {
  return new URLSearchParams(Object.entries(values).filter(([, v]) => v !== "" && v !== "all")).toString();
}
