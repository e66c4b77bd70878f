import type { BoardCard } from "../core/board-view-model.ts";
import type { EmergencyFeed } from "../core/emergency-feed.ts";
import type { FastifyBaseLogger } from "fastify";
import type { BoardData } from "./board-data.ts";

export type BoardListener = (card: BoardCard) => void;

export interface BoardHub {
  /** Returns the unsubscribe function. */
  add(listener: BoardListener): () => void;
  /** How many boards are connected. */
  size(): number;
  /** Resolves when no card is being loaded (tests). */
  idle(): Promise<void>;
  close(): void;
}

// Cards already sent, to skip repeats: the same change arrives from the store and again from the poller.
const REMEMBERED = 2000;

/**
 * Fans the feed out to connected boards: each change loads the emergency's card once, however many boards
 * are open, and only when it differs from what was last sent. Changes arriving together are loaded together.
 */
export function createBoardHub(deps: {
  feed: EmergencyFeed;
  data: Pick<BoardData, "card">;
  log: FastifyBaseLogger;
}): BoardHub {
  const listeners = new Set<BoardListener>();
  const pending = new Set<string>();
  const lastSent = new Map<string, string>();
  let flushing: Promise<void> | undefined;

  const unsubscribe = deps.feed.subscribe((emergencyId) => {
    if (listeners.size === 0) return;
    pending.add(emergencyId);
    schedule();
  });

  function schedule(): void {
    if (flushing) return;
    flushing = (async () => {
      // One turn of the event loop: the writes of one flow (an emergency and its first attempts) go together.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (pending.size > 0) await flush();
    })().finally(() => {
      flushing = undefined;
      if (pending.size > 0) schedule();
    });
  }

  async function flush(): Promise<void> {
    const ids = [...pending];
    pending.clear();
    for (const id of ids) {
      let card: BoardCard | undefined;
      try {
        card = await deps.data.card(id);
      } catch (error) {
        deps.log.error({ emergencyId: id, err: error }, "could not load an emergency for the board");
        continue;
      }
      if (card === undefined) continue;
      const key = JSON.stringify(card);
      if (lastSent.get(id) === key) continue;
      lastSent.delete(id);
      lastSent.set(id, key);
      if (lastSent.size > REMEMBERED) lastSent.delete(lastSent.keys().next().value!);
      for (const listener of listeners) listener(card);
    }
  }

  return {
    add(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    size: () => listeners.size,
    idle: async () => {
      while (flushing) await flushing;
    },
    close() {
      unsubscribe();
      listeners.clear();
    },
  };
}
