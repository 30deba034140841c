import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { apiSchemaPaths, apiSchemaSource } from './api-schema-source.ts';

/** Where two texts first differ, as a line number and the two lines. */
function firstDifference(written: string, fresh: string): string {
  const [a, b] = [written.split('\n'), fresh.split('\n')];
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `line ${at + 1}: the file has ${JSON.stringify(a[at] ?? '(end)')}, the routes give ${JSON.stringify(b[at] ?? '(end)')}`;
}

describe("the console's and the script client's API types", () => {
  it('are what the route schemas generate now, so a renamed response field fails the type check of both', async () => {
    const fresh = await apiSchemaSource();
    for (const file of apiSchemaPaths) {
      const written = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      const name = path.relative(process.cwd(), file);
      if (written !== fresh) expect.fail(`${name} is stale: run \`npm run api:types\` and commit it (${firstDifference(written, fresh)}).`);
    }
  });
});
