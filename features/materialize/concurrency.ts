/**
 * Runs `work` over `items` with at most `limit` in flight, in order of start. Hand-written (a dozen
 * lines) rather than p-limit: it also stops starting new items after the first failure, which is
 * what a materialization run wants — the window will be redone anyway, so finish what is in
 * flight and report the first error.
 */
export async function forEachWithConcurrency<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        await work(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker);
  await Promise.all(workers);
  if (failure) throw failure.error;
}

/** Like forEachWithConcurrency, collecting results in input order. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  await forEachWithConcurrency(items, limit, async (item, index) => {
    results[index] = await work(item, index);
  });
  return results;
}
