/**
 * How a user's answers (from `readUser`) changed between two reads: lists of objects must be the
 * same; a log (items with numeric ids, like the event history) may only lose items, as retention
 * removes them. Times of last use are ignored: reading is a use.
 */
export function answersDiff(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const differences: string[] = [];
  for (const url of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const [was, now] = [normalized(before[url]), normalized(after[url])];
    if (JSON.stringify(was) === JSON.stringify(now)) continue;
    const lists = (answer: unknown) => Object.values((answer ?? {}) as Record<string, unknown>).filter(Array.isArray) as unknown[][];
    const isLog = lists(now).every((list) => list.every((item) => typeof (item as { id?: unknown }).id === 'number'));
    const known = new Set(
      lists(was)
        .flat()
        .map((item) => JSON.stringify(item)),
    );
    const added = lists(now)
      .flat()
      .filter((item) => !known.has(JSON.stringify(item)));
    if (isLog && lists(now).length > 0 && added.length === 0) continue;
    differences.push(
      `${url}: ${added.length ? `new or changed ${added.map((item) => JSON.stringify(item).slice(0, 200)).join(', ')}` : 'changed'}`,
    );
  }
  return differences;
}

function normalized(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value, (key, v: unknown) => (key === 'lastUsedAt' ? undefined : v)));
}
