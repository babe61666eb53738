/**
 * Operator command line (`npm run cli -- ...`). Prints one JSON document on stdout; errors are
 * JSON on stderr with exit code 1, so scripts can rely on both.
 */
import { parseArgs } from "node:util";
import { z, ZodError } from "zod";
import { hashPassword, MAX_PASSWORD_LENGTH } from "@/lib/auth/password";
import { generateFernetKey } from "@/lib/crypto/fernet";
import { rotateStoredSecrets } from "@/lib/crypto/key-rotation";
import { getSecretBox } from "@/lib/crypto/secret-box";
import { closeDb } from "@/lib/db/client";
import { createTenantWithAdmin, deactivateTenant, getTenant } from "@/lib/db/queries/tenants";
import { createUser } from "@/lib/db/queries/users";
import { AppError, fieldErrors, notFound } from "@/lib/errors";

const USAGE = `Usage:
  npm run cli -- tenant create --name NAME --admin-email EMAIL --admin-password PASSWORD
  npm run cli -- user create --tenant ID --email EMAIL --password PASSWORD [--role admin|viewer]
  npm run cli -- tenant deactivate --tenant ID
  npm run cli -- key generate
  npm run cli -- key rotate        (re-encrypts every stored secret under the first ENCRYPTION_KEYS key)`;

// A missing option should read "--name: is required", not zod's generic type message.
const requiredText = (): z.ZodString =>
  z.string({ error: (issue) => (issue.input === undefined ? "is required" : undefined) });

const email = requiredText().trim().pipe(z.email("must be a valid email address"));
const password = requiredText()
  .min(8, "must be at least 8 characters")
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
const tenantId = requiredText().pipe(z.uuid("must be a tenant id (UUID)"));

const tenantCreateArgs = z.object({
  name: requiredText().trim().min(1, "is required").max(200),
  "admin-email": email,
  "admin-password": password,
});
const userCreateArgs = z.object({
  tenant: tenantId,
  email,
  password,
  role: z.enum(["admin", "viewer"]).default("admin"),
});
const tenantDeactivateArgs = z.object({ tenant: tenantId });

const usageError = (message: string): AppError => new AppError(400, "usage", `${message}\n${USAGE}`);

async function run(argv: string[]): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      name: { type: "string" },
      "admin-email": { type: "string" },
      "admin-password": { type: "string" },
      tenant: { type: "string" },
      email: { type: "string" },
      password: { type: "string" },
      role: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals.join(" ");
  if (values.help || command === "") {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }

  switch (command) {
    case "tenant create": {
      const args = tenantCreateArgs.parse(values);
      const { tenant, user } = await createTenantWithAdmin({
        name: args.name,
        email: args["admin-email"],
        passwordHash: await hashPassword(args["admin-password"]),
      });
      return { tenant_id: tenant.id, user_id: user.id };
    }
    case "user create": {
      const args = userCreateArgs.parse(values);
      // Checked first for a clear message; createUser's foreign key would catch it anyway.
      if (!(await getTenant({ tenantId: args.tenant }))) throw notFound("Tenant");
      const user = await createUser({
        tenantId: args.tenant,
        email: args.email,
        passwordHash: await hashPassword(args.password),
        role: args.role,
      });
      return { user_id: user.id };
    }
    case "tenant deactivate": {
      const args = tenantDeactivateArgs.parse(values);
      const tenant = await deactivateTenant({ tenantId: args.tenant });
      if (!tenant) throw notFound("Tenant");
      return { tenant_id: tenant.id, is_active: false };
    }
    case "key generate":
      return { key: generateFernetKey() };
    case "key rotate":
      // Counts only, never a token: safe to paste into a ticket.
      return rotateStoredSecrets({ box: getSecretBox() });
    default:
      throw usageError(`Unknown command "${command}".`);
  }
}

/** drizzle wraps driver errors, and its own message includes the query parameters (password hashes). */
function rootCause(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 5 && e instanceof Error && e.cause !== undefined; i++) e = e.cause;
  return e;
}

/** Only our own messages are printed; anything else could carry connection strings or SQL. */
function toErrorBody(err: unknown): { error: { code: string; message: string; details?: unknown } } {
  if (err instanceof ZodError) {
    const fields = fieldErrors(err);
    const message = Object.entries(fields)
      .map(([field, msg]) => `--${field}: ${msg}`)
      .join("; ");
    return { error: { code: "validation_failed", message, details: { fields } } };
  }
  if (err instanceof AppError) return { error: { code: err.code, message: err.message } };
  // parseArgs reports unknown or malformed options with these codes.
  const code = (rootCause(err) as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    return { error: { code: "usage", message: `${(err as Error).message}\n${USAGE}` } };
  }
  const message =
    typeof code === "string" && ["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT"].includes(code)
      ? "Cannot reach the database. Is it running (npm start) or is DATABASE_URL set?"
      : "Command failed; see the log above for the cause.";
  return { error: { code: "internal_error", message } };
}

async function main(): Promise<void> {
  let exitCode = 0;
  try {
    const result = await run(process.argv.slice(2));
    if (result !== undefined) process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    const body = toErrorBody(err);
    if (body.error.code === "internal_error") {
      // The raw error goes to stderr for the operator; the JSON line stays generic.
      const cause = rootCause(err);
      process.stderr.write(`${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}\n`);
    }
    process.stderr.write(`${JSON.stringify(body)}\n`);
    exitCode = 1;
  } finally {
    await closeDb().catch(() => {});
  }
  process.exit(exitCode);
}

void main();
