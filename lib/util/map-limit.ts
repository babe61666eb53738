/**
 * Runs fn over items with at most `limit` calls in flight, results in input order. Shared by the
 * ingest path (parsing) and the API providers (HTTP fetches); it lives here so lib/ingest need not
 * depend on lib/email.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  // A limit below 1 would start no lane and return holes; one lane at least.
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane));
  return results;
}
