/**
 * PostgreSQL refuses NUL in text and jsonb ("invalid byte sequence for encoding UTF8: 0x00",
 * "unsupported Unicode escape sequence") and jsonb refuses a lone UTF-16 surrogate escape. Any of
 * them in one decoded header used to make the whole batch INSERT fail forever. Both become U+FFFD
 * (what a mail client shows for an undecodable character); the raw source stays byte-exact in bytea.
 */
const REPLACEMENT = "\uFFFD";

// ES2024 String methods (Node >= 20); the project's lib setting is ES2023.
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

/** True when the string holds something PostgreSQL would refuse. */
export function needsSanitizing(value: string): boolean {
  return value.includes("\0") || !value.isWellFormed();
}

/** NUL and lone surrogates replaced by U+FFFD; everything else unchanged. */
export function sanitizeText(value: string): string {
  if (!needsSanitizing(value)) return value;
  return value.toWellFormed().replaceAll("\0", REPLACEMENT);
}

export function sanitizeNullableText(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : sanitizeText(value);
}

/** sanitizeText applied to every string of a JSON value, object keys included. */
export function sanitizeJson<T>(value: T): T {
  if (typeof value === "string") return sanitizeText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => sanitizeJson(v)) as T;
  if (value && typeof value === "object" && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[sanitizeText(k)] = sanitizeJson(v);
    return out as T;
  }
  return value;
}

/**
 * Which named fields needed sanitizing, as warnings ("nul_character: subject"). Checked on the
 * parsed values so the warning names the field an admin sees.
 */
export function describeUnstorable(fields: Record<string, unknown>): string[] {
  const nul: string[] = [];
  const surrogate: string[] = [];
  const visit = (name: string, value: unknown): void => {
    if (typeof value === "string") {
      if (value.includes("\0") && !nul.includes(name)) nul.push(name);
      if (!value.isWellFormed() && !surrogate.includes(name)) surrogate.push(name);
    } else if (Array.isArray(value)) {
      for (const v of value) visit(name, v);
    } else if (value && typeof value === "object" && !(value instanceof Date)) {
      for (const [k, v] of Object.entries(value)) {
        visit(name, k);
        visit(name, v);
      }
    }
  };
  for (const [name, value] of Object.entries(fields)) visit(name, value);
  const warnings: string[] = [];
  if (nul.length > 0) warnings.push(`nul_character: NUL characters in ${nul.join(", ")} were replaced by U+FFFD`);
  if (surrogate.length > 0) {
    warnings.push(`lone_surrogate: unpaired UTF-16 surrogates in ${surrogate.join(", ")} were replaced by U+FFFD`);
  }
  return warnings;
}
