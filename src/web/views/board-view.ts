import type { BoardCard } from "../../core/board-view-model.ts";
import type { FlashMessage } from "../../storage/session-store.ts";
import { emergencyCardView } from "./emergency-card-view.ts";
import { html, type SafeHtml } from "./html.ts";
import { page, type PageViewer } from "./layout.ts";

/** The alarm line above the board: loud (and flashing, unless reduced motion) while a real call is open. */
export function alarmText(open: readonly Pick<BoardCard, "isTest">[]): { text: string; level: string } {
  const real = open.filter((c) => !c.isTest).length;
  const tests = open.length - real;
  if (real > 0)
    return {
      text: `${real} EMERGENC${real === 1 ? "Y" : "IES"} NOT ACKNOWLEDGED`,
      level: "real",
    };
  if (tests > 0)
    return { text: `${tests} test call${tests === 1 ? "" : "s"} not acknowledged`, level: "test" };
  return { text: "", level: "none" };
}

export function boardView(input: {
  viewer: PageViewer;
  flash: readonly FlashMessage[];
  open: readonly BoardCard[];
  acknowledged: readonly BoardCard[];
  now: number;
}): SafeHtml {
  const { viewer, now } = input;
  const card = (c: BoardCard) => emergencyCardView(c, { viewer, now, returnTo: "/board" });
  const alarm = alarmText(input.open);
  return page({
    title: "Board",
    viewer,
    section: "board",
    flash: input.flash,
    hideTitle: true,
    body: html`<div id="board" data-board data-events="/board/events" data-server-now="${now}">
      <div class="board-bar">
        <h1>Emergency board</h1>
        <p id="board-status" class="board-status" data-state="static">
          Live updates need JavaScript; reload for the latest.
        </p>
        <button type="button" id="sound-toggle" class="button button-small" hidden aria-pressed="false">
          Enable sound
        </button>
      </div>
      <div id="alarm" class="alarm" data-level="${alarm.level}" ${alarm.level === "none" ? html`hidden` : ""}>
        ${alarm.text}
      </div>
      <div id="board-live" class="visually-hidden" aria-live="assertive" aria-atomic="true"></div>
      <section aria-labelledby="h-open">
        <h2 id="h-open">Open emergencies</h2>
        <p class="empty" id="board-open-empty" ${input.open.length > 0 ? html`hidden` : ""}>
          No open emergencies.
        </p>
        <div id="board-open" class="em-list">${input.open.map(card)}</div>
      </section>
      <section aria-labelledby="h-acked">
        <h2 id="h-acked">Recently acknowledged</h2>
        <p class="empty" id="board-acked-empty" ${input.acknowledged.length > 0 ? html`hidden` : ""}>
          None in the last 24 hours.
        </p>
        <div id="board-acked" class="em-list em-list-acked">${input.acknowledged.map(card)}</div>
      </section>
    </div>`,
  });
}
