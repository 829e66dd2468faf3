/** Evenly spread picks for the checks that sample (query tokens, keys, heads). */

/** n of 0 .. count - 1, spread from the first to the last (all of them when n >= count), and the `must` ones, sorted. */
export function spread(count: number, n: number, must: readonly number[] = []): number[] {
  const picks = new Set(must);
  const m = Math.min(n, count);
  for (let k = 0; k < m; k++) picks.add(Math.round((k * (count - 1)) / Math.max(1, m - 1)));
  return [...picks].filter((t) => t < count).sort((a, b) => a - b);
}
