import { pino, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

/** Every secret the relay handles, wherever it could appear in a log record. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "*.access_token",
  "*.refresh_token",
  "*.id_token",
  "*.client_secret",
  "*.clientSecret",
  "*.clientState",
  "*.code",
  "*.code_verifier",
  "*.dataKey",
  "*.privateKey",
  "*.password",
];

interface LoggedRequest {
  method?: string;
  url?: string;
  ip?: string;
}

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      serializers: {
        // Query strings carry OAuth codes and states (callback) and validation tokens: log the path only. An
        // acknowledgement link's path is itself the credential.
        req: (req: LoggedRequest) => ({
          method: req.method,
          path: req.url?.split("?")[0]?.replace(/^\/ack\/[^/]+/, "/ack/[redacted]"),
          ip: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    destination as never,
  );
}
