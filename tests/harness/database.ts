import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * A fresh database for one test file, cloned from the migrated template that the test runner made
 * (CREATE DATABASE ... TEMPLATE is a file copy: milliseconds). Set the returned URL as
 * DATABASE_URL before the first query; lib/db reads it lazily.
 */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.TEST_PG_ADMIN_URL;
  const template = process.env.TEST_PG_TEMPLATE;
  if (!adminUrl || !template) {
    throw new Error("TEST_PG_ADMIN_URL / TEST_PG_TEMPLATE are not set: run the suites with `npm test` (scripts/run-tests.ts).");
  }
  const name = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Points this test process at a fresh database. Call before anything touches lib/db. */
export async function useFreshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const db = await createTestDatabase();
  process.env.DATABASE_URL = db.url;
  return db;
}
