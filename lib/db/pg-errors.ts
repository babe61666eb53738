/**
 * drizzle-orm wraps driver errors in DrizzleQueryError (the pg error is its `cause`), so a SQLSTATE
 * check has to look one level down as well.
 */
function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 3; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === "23505";
}

export function isForeignKeyViolation(error: unknown): boolean {
  return sqlState(error) === "23503";
}
