/**
 * `npm run bench`: runs every `*.bench.ts` in this folder (or those named on the command line)
 * and prints one table. Each bench starts what it needs (an embedded database, a throwaway
 * PostgreSQL server) and stops it again.
 */
import fs from 'node:fs';
import { machine, printTable, type Bench, type BenchResult } from './harness.ts';

const only = process.argv.slice(2);
const files = fs
  .readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => f.includes(o))))
  .sort();

const results: BenchResult[] = [];
console.log(`machine: ${machine()}`);
for (const file of files) {
  const { default: bench } = (await import(new URL(file, import.meta.url).href)) as { default: Bench };
  console.log(`running ${file} …`);
  await bench({ record: (result) => results.push(result) });
}
console.log('');
printTable(results);
