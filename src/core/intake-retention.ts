// How long the intake keeps what it needs for dedupe. Graph redelivers a notification for up to 4 hours
// (reference/graph-change-notifications.md §4) and polling looks back 24 hours on a first run; message content is
// not kept at all once an item is finished (issue 4: "not kept beyond what dedupe needs").

/** Finished inbox rows (their dedupe keys; the content is already gone) and the validation tokens they used. */
export const INBOX_RETENTION_MS = 7 * 86_400_000;

/** Handed-over `seen_messages` rows: the (chat, message) pairs both the webhook and polling dedupe against. */
export const SEEN_MESSAGE_RETENTION_MS = 30 * 86_400_000;
