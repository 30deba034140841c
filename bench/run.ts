/**
 * `npm run bench`: runs every `*.bench.ts` in this folder (or those named on the command line)
 * and prints one table. Each bench starts what it needs (an embedded database, a throwaway
 * PostgreSQL server) and stops it again. Options (`--name value` or `--flag`) go to every bench,
 * which reads those it knows: `npm run bench -- knowledge --driver pglite --size 5000`.
 */
import fs from 'node:fs';
import { machine, printTable, type Bench, type BenchResult } from './harness.ts';

const only: string[] = [];
const options = new Map<string, string | true>();
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (!arg.startsWith('--')) only.push(arg);
  else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) options.set(arg.slice(2), args[++i]!);
  else options.set(arg.slice(2), true);
}
const files = fs
  .readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => f.includes(o))))
  .sort();

const results: BenchResult[] = [];
console.log(`machine: ${machine()}`);
for (const file of files) {
  const { default: bench } = (await import(new URL(file, import.meta.url).href)) as { default: Bench };
  console.log(`running ${file} …`);
  await bench({ record: (result) => results.push(result), options });
}
console.log('');
printTable(results);
console.log(`\nmachine at the end: ${machine()}`);
