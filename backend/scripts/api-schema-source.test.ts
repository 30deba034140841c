import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiSchemaPath, apiSchemaSource } from './api-schema-source.ts';

/** Where two texts first differ, as a line number and the two lines. */
function firstDifference(written: string, fresh: string): string {
  const [a, b] = [written.split('\n'), fresh.split('\n')];
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: the file has ${JSON.stringify(a[at] ?? '(end)')}, the routes give ${JSON.stringify(b[at] ?? '(end)')}`;
}

describe("the console's API types", () => {
  it('are what the route schemas generate now, so a renamed response field fails the console type check', async () => {
    const fresh = await apiSchemaSource();
    const written = fs.existsSync(apiSchemaPath) ? fs.readFileSync(apiSchemaPath, 'utf8') : '';
    if (written !== fresh)
      expect.fail(`web/src/api-schema.ts is stale: run \`npm run api:types\` and commit it (${firstDifference(written, fresh)}).`);
  });
});
