import type { BoardCard } from "../core/board-view-model.ts";
import { emergencyCardView } from "./views/emergency-card-view.ts";
import type { PageViewer } from "./views/layout.ts";

/** A card as the board's script receives it (live update, snapshot, or the answer to an acknowledgement). */
export interface BoardCardEvent {
  id: string;
  list: "open" | "acknowledged";
  isTest: boolean;
  detectedAt: number;
  /** Rendered by the server for this viewer, escaped like every page. */
  html: string;
  /** Read out by the board's live region when the card is new. */
  announce: string;
}

export function boardCardEvent(card: BoardCard, viewer: PageViewer, now: number): BoardCardEvent {
  const what = card.isTest ? "Test call" : "Emergency call";
  return {
    id: card.id,
    list: card.acknowledgement === null ? "open" : "acknowledged",
    isTest: card.isTest,
    detectedAt: card.detectedAt,
    html: emergencyCardView(card, { viewer, now, returnTo: "/board" }).value,
    announce: `${what} ${card.dialString ?? ""} from ${card.caller}. Location: ${card.location}`,
  };
}
