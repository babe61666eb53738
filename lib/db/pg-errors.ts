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

/**
 * The database answered and refused this statement (it has a SQLSTATE): another statement may
 * still go through. Without one the connection itself failed (refused, timed out, terminated), and
 * trying each part again on its own would only wait out the same failure once per part.
 */
export function isStatementRefusal(error: unknown): boolean {
  return sqlState(error) !== undefined;
}
