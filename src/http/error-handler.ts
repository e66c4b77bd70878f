import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RelayError, httpStatusFor, type ErrorCode } from "../core/errors.ts";
import { ValidationError, type FieldProblem } from "../core/validation-error.ts";

/** Every error response: `{ error: { code, message, fields? } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; fields?: FieldProblem[] };
}

// Fastify's own request errors, with messages of ours: parser messages can quote the body (Node's JSON.parse
// error shows a snippet of the input), and a body may hold a client secret.
const FASTIFY_REQUEST_ERRORS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "The request body is not valid JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "The request body is empty but its Content-Type is application/json",
  FST_ERR_CTP_BODY_TOO_LARGE: "The request body is too large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "Unsupported Content-Type (send application/json)",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "Content-Length does not match the request body",
};

/**
 * The one place errors become HTTP responses: RelayError by its code (`httpStatusFor`), fastify's request
 * errors (bad JSON, body too large, schema validation) as ERR_VALIDATION with their 4xx status, anything else
 * as a 500 whose body says nothing about the cause (the cause goes to the request's log). Also answers unknown
 * routes with ERR_NOT_FOUND. Install before registering routes.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toResponse(error);
    if (status >= 500) {
      request.log.error({ err: error }, "request failed");
    } else {
      request.log.info({ code: body.error.code, status }, "request rejected");
    }
    if (body.error.code === "ERR_UNAUTHORIZED") void reply.header("www-authenticate", "Bearer");
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    // The path only: a query string may carry an OAuth code or state.
    const routePath = request.url.split("?")[0] ?? "";
    const body: ErrorBody = {
      error: { code: "ERR_NOT_FOUND", message: `No route for ${request.method} ${routePath}` },
    };
    return reply.code(404).send(body);
  });
}

export function toResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof RelayError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error instanceof ValidationError) body.error.fields = error.problems.map((p) => ({ ...p }));
    return { status: httpStatusFor(error.code), body };
  }
  const fastifyError = error as Partial<FastifyError> | null | undefined;
  const status = typeof fastifyError?.statusCode === "number" ? fastifyError.statusCode : 500;
  if (Array.isArray(fastifyError?.validation)) {
    // A route's JSON schema rejected the request. Ajv's messages describe the rule, never the value.
    const fields = fastifyError.validation.map((v) => ({
      field: fieldOf(v.instancePath, v.params, fastifyError.validationContext),
      reason: v.message ?? "is invalid",
    }));
    return {
      status: 400,
      body: { error: { code: "ERR_VALIDATION", message: "The request is invalid", fields } },
    };
  }
  if (status >= 400 && status < 500) {
    const known = fastifyError?.code === undefined ? undefined : FASTIFY_REQUEST_ERRORS[fastifyError.code];
    return {
      status,
      body: { error: { code: codeForStatus(status), message: known ?? "The request is invalid" } },
    };
  }
  return {
    status: 500,
    body: { error: { code: "ERR_INTERNAL", message: "Internal error; the details are in the relay's log" } },
  };
}

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return "ERR_UNAUTHORIZED";
  if (status === 404) return "ERR_NOT_FOUND";
  if (status === 409) return "ERR_CONFLICT";
  return "ERR_VALIDATION";
}

function fieldOf(instancePath: string, params: Record<string, unknown>, context: string | undefined): string {
  const missing = typeof params.missingProperty === "string" ? params.missingProperty : undefined;
  const additional = typeof params.additionalProperty === "string" ? params.additionalProperty : undefined;
  const pointer = instancePath.replace(/^\//, "").replace(/\//g, ".");
  const name = [pointer, missing ?? additional].filter((p) => p !== undefined && p !== "").join(".");
  return name === "" ? (context ?? "body") : name;
}
