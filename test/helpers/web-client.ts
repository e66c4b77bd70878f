import assert from "node:assert/strict";
import { request as httpRequestRaw, type IncomingMessage } from "node:http";
import { httpRequest, type HttpResponse } from "./http-request.ts";

/** A cookie jar and the last page's CSRF token: what a browser keeps between requests. */
export class WebClient {
  readonly cookies = new Map<string, string>();
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.#send("GET", path, undefined, headers);
  }

  post(
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<HttpResponse> {
    return this.#send("POST", path, new URLSearchParams(form).toString(), {
      "content-type": "application/x-www-form-urlencoded",
      ...headers,
    });
  }

  /** The CSRF token of a signed-in page (every page has one in its sign-out form). */
  async csrf(path = "/account"): Promise<string> {
    const page = await this.get(path);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(token, `no CSRF token on ${path} (${page.status})`);
    return token;
  }

  async signIn(username: string, password: string): Promise<void> {
    const form = await this.get("/login");
    const loginToken = /name="_login" value="([^"]+)"/.exec(form.text)?.[1] ?? "";
    const res = await this.post("/login", { _login: loginToken, username, password });
    assert.equal(res.status, 303, `sign-in of ${username}: ${res.status}`);
  }

  /** As the admin: a new account with a role, through the accounts form. */
  async createAccount(username: string, role: string, password: string, displayName = ""): Promise<void> {
    const res = await this.post("/accounts", {
      _csrf: await this.csrf(),
      username,
      displayName,
      role,
      password,
      passwordConfirm: password,
    });
    assert.equal(res.status, 303, `create ${username}: ${res.status} ${res.text.slice(0, 300)}`);
  }

  /** Opens a server-sent event stream with this client's cookies. */
  events(path: string): Promise<EventReader> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return new Promise((resolve, reject) => {
      const req = httpRequestRaw(`${this.base}${path}`, { headers: { cookie, accept: "text/event-stream" } });
      req.on("response", (res) => resolve(new EventReader(res, () => req.destroy())));
      req.on("error", reject);
      req.end();
    });
  }

  async #send(method: string, path: string, body: string | undefined, headers: Record<string, string>) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await httpRequest(`${this.base}${path}`, {
      method,
      headers: { ...(cookie ? { cookie } : {}), origin: this.base, ...headers },
      ...(body !== undefined ? { body } : {}),
    });
    const setCookie = res.headers["set-cookie"];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(";");
      const [name, value] = pair!.split("=") as [string, string];
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

export interface ServerEvent {
  event: string;
  data: any;
  receivedAt: number;
}

/** Parses `text/event-stream` as it arrives; `next(name)` waits for the next event of that name. */
export class EventReader {
  readonly response: IncomingMessage;
  readonly events: ServerEvent[] = [];
  readonly raw: string[] = [];
  #buffer = "";
  #read = 0;
  #waiters: (() => void)[] = [];
  #stop: () => void;
  ended = false;

  constructor(response: IncomingMessage, stop: () => void) {
    this.response = response;
    this.#stop = stop;
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      this.raw.push(chunk);
      this.#buffer += chunk;
      let end: number;
      while ((end = this.#buffer.indexOf("\n\n")) >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined) {
          this.events.push({ event, data: data ? JSON.parse(data) : undefined, receivedAt: Date.now() });
        }
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    response.on("end", () => {
      this.ended = true;
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** The next event named `name` not returned before (events of other names are skipped). */
  async next(name: string, timeoutMs = 5000): Promise<ServerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#read < this.events.length) {
        const event = this.events[this.#read++]!;
        if (event.event === name) return event;
      }
      if (this.ended) throw new Error(`stream ended before a ${name} event`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${name} event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#stop();
  }
}
