import { ZodError } from "zod";
import type { ErrorBody } from "@/lib/api/types";

export type { ErrorBody };

/**
 * The one error type that may reach a client. Its message and details are written for the user;
 * anything else (database, provider internals) is logged and answered with a generic 500.
 */
export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toResponse(): Response {
    const body: ErrorBody = { error: { code: this.code, message: this.message } };
    if (this.details) body.error.details = this.details;
    return Response.json(body, { status: this.status });
  }
}

export const notFound = (what: string): AppError => new AppError(404, "not_found", `${what} was not found.`);
export const unauthorized = (): AppError => new AppError(401, "unauthorized", "Please log in.");
export const forbidden = (): AppError =>
  new AppError(403, "forbidden", "Your role does not allow this action.");

/** Field errors keyed by dotted path, one message each: what a form shows beside its inputs. */
export function fieldErrors(error: ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = issue.path.join(".") || "_";
    fields[key] ??= issue.message;
  }
  return fields;
}

export function validationError(error: ZodError): AppError {
  return new AppError(400, "validation_failed", "Some fields are invalid.", { fields: fieldErrors(error) });
}
