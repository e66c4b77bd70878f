// Small progressive enhancements; every page works without this script (the board then needs a reload).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  localizeTimes(document);

  // Copy buttons: <button data-copy="#input-id">.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      const text = "value" in source ? source.value : source.textContent;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        // No clipboard access (http on a non-localhost origin): select the text for Ctrl+C instead.
        if (typeof source.select === "function") source.select();
        button.textContent = "Press Ctrl+C";
      }
      setTimeout(() => (button.textContent = label), 2000);
    });
  }

  // Buttons that need a second thought: <button data-confirm="question">.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) event.preventDefault();
  });

  // An error summary takes the focus, so keyboard and screen reader users hear what went wrong.
  const summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();

  const board = document.querySelector("[data-board]");
  if (board) startBoard(board);

  for (const form of document.querySelectorAll("form[data-preview-url]")) livePreview(form);
});

// Times are rendered in UTC by the server; show them in the reader's time zone, keeping UTC in the tooltip.
function localizeTimes(root) {
  for (const time of root.querySelectorAll("time[data-local]")) {
    const date = new Date(time.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    time.title = time.textContent;
    const precise = time.getAttribute("data-local") === "seconds";
    time.textContent = date.toLocaleString(undefined, {
      dateStyle: "medium",
      timeStyle: precise ? "medium" : "short",
    });
  }
}

/** "42 s", "4 min 12 s", "1 h 4 min", "3 d": the same wording as the server's `elapsed`. */
function elapsed(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d`;
}

// --- The live board: server-sent events, an alarm banner, sound, and acknowledge/notes without a reload. ---

const REPEAT_BEEP_MS = 10_000;
const MAX_ACKNOWLEDGED = 10;

function startBoard(board) {
  const openList = board.querySelector("#board-open");
  const ackedList = board.querySelector("#board-acked");
  const status = board.querySelector("#board-status");
  const live = board.querySelector("#board-live");
  const alarm = board.querySelector("#alarm");
  const soundButton = board.querySelector("#sound-toggle");
  // The server's clock may differ from this computer's (and runs fake in tests): tick from the server's time.
  let offset = Number(board.getAttribute("data-server-now")) - Date.now();
  const known = new Set([...openList.children].map((card) => card.getAttribute("data-emergency-id")));
  const sound = createSound(soundButton);
  let source;
  let retryTimer;

  const setStatus = (state, text) => {
    status.setAttribute("data-state", state);
    status.textContent = text;
  };

  const tick = () => {
    const now = Date.now() + offset;
    for (const span of board.querySelectorAll("[data-since]")) {
      span.textContent = elapsed(now - Date.parse(span.getAttribute("data-since")));
    }
  };
  tick();
  setInterval(tick, 1000);

  const refreshAlarm = () => {
    const open = [...openList.children];
    const real = open.filter((card) => card.getAttribute("data-test") !== "true").length;
    const tests = open.length - real;
    board.querySelector("#board-open-empty").hidden = open.length > 0;
    board.querySelector("#board-acked-empty").hidden = ackedList.children.length > 0;
    if (real > 0) {
      alarm.setAttribute("data-level", "real");
      alarm.textContent = `${real} EMERGENC${real === 1 ? "Y" : "IES"} NOT ACKNOWLEDGED`;
    } else if (tests > 0) {
      alarm.setAttribute("data-level", "test");
      alarm.textContent = `${tests} test call${tests === 1 ? "" : "s"} not acknowledged`;
    } else {
      alarm.setAttribute("data-level", "none");
      alarm.textContent = "";
    }
    alarm.hidden = open.length === 0;
    sound.setAlarm(real > 0);
  };

  const toElement = (markup) => {
    const template = document.createElement("template");
    template.innerHTML = markup;
    const element = template.content.firstElementChild;
    localizeTimes(element);
    return element;
  };

  // Keeps the open list newest first: a late event for an older call goes below the newer ones.
  const insertOpen = (element, detectedAt) => {
    const after = [...openList.children].find(
      (card) => Number(card.getAttribute("data-detected")) < detectedAt,
    );
    openList.insertBefore(element, after ?? null);
  };

  const place = (card, isSnapshot) => {
    const existing = document.getElementById(`em-${card.id}`);
    const focused = existing && existing.contains(document.activeElement) ? document.activeElement.id : "";
    const element = toElement(card.html);
    if (existing) existing.remove();
    if (card.list === "open") {
      insertOpen(element, card.detectedAt);
      if (!known.has(card.id)) {
        known.add(card.id);
        element.classList.add("em-new");
        live.textContent = card.announce;
        sound.beep();
      }
    } else {
      known.delete(card.id);
      if (isSnapshot) ackedList.append(element);
      else ackedList.prepend(element);
      while (ackedList.children.length > MAX_ACKNOWLEDGED) ackedList.lastElementChild.remove();
    }
    // A live update must not take the keyboard focus away from someone typing a note in this card.
    if (focused) {
      const again = document.getElementById(focused);
      if (again) again.focus();
    }
  };

  const applySnapshot = (snapshot) => {
    offset = snapshot.now - Date.now();
    const openIds = new Set(snapshot.open.map((card) => card.id));
    for (const card of [...openList.children]) {
      if (!openIds.has(card.getAttribute("data-emergency-id"))) card.remove();
    }
    ackedList.replaceChildren();
    for (const card of snapshot.open) place(card, true);
    for (const card of snapshot.acknowledged) place(card, true);
    for (const id of [...known]) if (!openIds.has(id)) known.delete(id);
    refreshAlarm();
    tick();
  };

  const connect = () => {
    clearTimeout(retryTimer);
    source = new EventSource(board.getAttribute("data-events"));
    source.addEventListener("open", () => setStatus("live", "Live"));
    source.addEventListener("snapshot", (event) => applySnapshot(JSON.parse(event.data)));
    source.addEventListener("card", (event) => {
      place(JSON.parse(event.data), false);
      refreshAlarm();
      tick();
    });
    source.addEventListener("heartbeat", (event) => {
      offset = JSON.parse(event.data).now - Date.now();
    });
    source.addEventListener("signed-out", () => {
      source.close();
      window.location.reload();
    });
    source.addEventListener("error", () => {
      // EventSource retries by itself (the server's `retry:`) unless the answer was not an event stream.
      if (source.readyState !== EventSource.CLOSED) {
        setStatus("reconnecting", "Reconnecting…");
        return;
      }
      setStatus("reconnecting", "Disconnected; retrying…");
      retryTimer = setTimeout(recover, 5000);
    });
  };

  // A stream that ended for good: signed out (the board page now redirects to sign-in) or the relay is down.
  const recover = async () => {
    try {
      const res = await fetch(window.location.pathname, { redirect: "manual", cache: "no-store" });
      if (res.type === "opaqueredirect" || res.status === 401 || res.status === 403) {
        window.location.reload();
        return;
      }
      connect();
    } catch {
      retryTimer = setTimeout(recover, 5000);
    }
  };

  // Acknowledge and notes without a reload; the answer carries the updated card.
  board.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-fetch]");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    const body = new URLSearchParams(new FormData(form));
    try {
      const res = await postForm(form.action, body);
      const answer = (res.headers.get("content-type") ?? "").includes("json") ? await res.json() : null;
      if (!res.ok || !answer) {
        live.textContent =
          answer?.message ??
          (res.status === 403 ? "Not allowed for your role." : `Failed (HTTP ${res.status}).`);
        return;
      }
      live.textContent = answer.message;
      if (answer.card) {
        place(answer.card, false);
        refreshAlarm();
        tick();
      }
    } catch {
      live.textContent = "The relay could not be reached; try again.";
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  });

  setStatus("connecting", "Connecting…");
  refreshAlarm();
  if (known.size > 0) sound.beep();
  connect();
}

/**
 * A short two-tone beep made with the Web Audio API (no audio file). Browsers block sound until the person has
 * interacted with the page, so the button says "Enable sound" until then; the beep repeats while a real
 * emergency is open.
 */
function createSound(button) {
  const AudioContext = window.AudioContext || window.webkitAudioContext;
  let context;
  let enabled = true;
  let alarm = false;
  let repeat;
  try {
    context = AudioContext ? new AudioContext() : undefined;
  } catch {
    context = undefined;
  }

  const label = () => {
    if (!context) {
      button.hidden = true;
      return;
    }
    button.hidden = false;
    const running = context.state === "running";
    button.textContent = !running ? "Enable sound" : enabled ? "Sound on" : "Sound off";
    button.setAttribute("aria-pressed", running && enabled ? "true" : "false");
  };

  const beep = () => {
    if (!context || !enabled || context.state !== "running") return;
    const start = context.currentTime;
    for (const [i, frequency] of [880, 660, 880].entries()) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "square";
      oscillator.frequency.value = frequency;
      const at = start + i * 0.18;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.16);
    }
  };

  if (context) {
    context.addEventListener("statechange", label);
    button.addEventListener("click", async () => {
      if (context.state !== "running") {
        enabled = true;
        await context.resume();
        beep();
      } else {
        enabled = !enabled;
      }
      label();
    });
  }
  label();

  return {
    /** A new card: one beep (a real emergency then keeps beeping through `setAlarm` until acknowledged). */
    beep,
    setAlarm(on) {
      alarm = on;
      if (alarm && !repeat) repeat = setInterval(beep, REPEAT_BEEP_MS);
      if (!alarm && repeat) {
        clearInterval(repeat);
        repeat = undefined;
      }
    },
  };
}

/** A form's fields POSTed for a JSON answer, with the page's CSRF token in the header the server checks. */
function postForm(url, body) {
  return fetch(url, {
    method: "POST",
    headers: {
      accept: "application/json",
      "content-type": "application/x-www-form-urlencoded",
      "x-csrf-token": body.get("_csrf") ?? "",
    },
    body,
    credentials: "same-origin",
  });
}

// --- Template preview: rendered by the server as the admin types (the Preview button works without this). ---

function livePreview(form) {
  const target = document.getElementById(form.getAttribute("data-preview-target"));
  if (!target) return;
  let timer;
  let sequence = 0;
  const update = async () => {
    const mine = ++sequence;
    const body = new URLSearchParams(new FormData(form));
    body.delete("action");
    try {
      const res = await postForm(form.getAttribute("data-preview-url"), body);
      const answer = await res.json();
      if (mine !== sequence) return;
      target.querySelector("[data-preview-title]").textContent = answer.ok ? answer.title : "";
      target.querySelector("[data-preview-text]").textContent = answer.ok
        ? answer.text
        : answer.problems.map((p) => `${p.field}: ${p.reason}`).join("\n");
      target.setAttribute("data-preview-state", answer.ok ? "ok" : "invalid");
    } catch {
      // The preview is a convenience: the Preview button still renders it with a full page.
    }
  };
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(update, 350);
  });
}
