import { sql } from "drizzle-orm";
import { getDb } from "@/lib/db/client";

/** True when a round trip to the database succeeds; never throws, so /health can answer 503. */
export async function pingDatabase(params: { timeoutMs?: number } = {}): Promise<boolean> {
  const timeoutMs = params.timeoutMs ?? 2000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("database ping timed out")), timeoutMs);
    });
    await Promise.race([getDb().execute(sql`SELECT 1`), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
