import {
  ENCRYPTED_COLUMN_NAMES,
  listEncryptedValues,
  replaceEncryptedValue,
  type EncryptedColumnName,
} from "@/lib/db/queries/secret-rotation";
import type { SecretBox } from "./secret-box";

export type ColumnRotationCounts = {
  /** Non-null tokens looked at. */
  checked: number;
  /** Re-encrypted under the newest key by this run. */
  rotated: number;
  /** Already under the newest key (a rerun finds everything here). */
  current: number;
  /** Rewritten by the app while we worked (so already newest): left alone. */
  changed_meanwhile: number;
  /** Decrypts under no configured key: left alone, and the old key must not be dropped yet. */
  undecryptable: number;
};

export type RotationReport = {
  columns: Record<EncryptedColumnName, ColumnRotationCounts>;
  total: ColumnRotationCounts;
};

const emptyCounts = (): ColumnRotationCounts => ({ checked: 0, rotated: 0, current: 0, changed_meanwhile: 0, undecryptable: 0 });

/**
 * Re-encrypts every stored secret under the newest key. Each token is replaced by its own
 * compare-and-set statement, so an interrupted run leaves every row either old or new (both
 * decrypt) and a rerun continues where it stopped: tokens already under the newest key are skipped.
 */
export async function rotateStoredSecrets({
  box,
  batchSize = 200,
}: {
  box: SecretBox;
  batchSize?: number;
}): Promise<RotationReport> {
  const columns = {} as Record<EncryptedColumnName, ColumnRotationCounts>;
  const total = emptyCounts();
  for (const column of ENCRYPTED_COLUMN_NAMES) {
    const counts = emptyCounts();
    columns[column] = counts;
    let afterId: string | null = null;
    for (;;) {
      const page = await listEncryptedValues({ column, afterId, limit: batchSize });
      if (page.length === 0) break;
      for (const { id, token } of page) {
        counts.checked += 1;
        let stale: boolean;
        try {
          stale = box.needsRotation(token);
        } catch {
          counts.undecryptable += 1;
          continue;
        }
        if (!stale) {
          counts.current += 1;
          continue;
        }
        const newToken = box.encrypt(box.decrypt(token));
        if (await replaceEncryptedValue({ column, id, oldToken: token, newToken })) counts.rotated += 1;
        else counts.changed_meanwhile += 1;
      }
      afterId = page[page.length - 1]?.id ?? null;
    }
    for (const key of Object.keys(total) as (keyof ColumnRotationCounts)[]) total[key] += counts[key];
  }
  return { columns, total };
}
