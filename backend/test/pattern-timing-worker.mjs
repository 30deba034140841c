// Runs regular expressions over adversarial inputs for linear-patterns.test.ts, in a worker so
// the test can stop a run that backtracks for minutes. Before each run it posts `start` (the test
// starts its clock then); after it, `end` with the time the run took.
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

/** @type {{ patterns: Array<{ source: string; flags: string; inputs: Array<{ name: string; unit: string; end: string }> }>; from: number; size: number }} */
const { patterns, from, size } = workerData;
const cache = new Map();

/** `unit` repeated to `size` characters, then `end` (a character that spoils a match anchored at the end). */
function build({ unit, end }) {
  const key = `${unit}\u0000${end}`;
  let text = cache.get(key);
  if (text === undefined) {
    text = unit.repeat(Math.ceil(size / unit.length)).slice(0, size - end.length) + end;
    if (cache.size > 64) cache.clear();
    cache.set(key, text);
  }
  return text;
}

for (let index = from; index < patterns.length; index++) {
  const { source, flags, inputs } = patterns[index];
  // `g` as replace() and matchAll() use it: a match is tried from every position; `y` would stop that.
  const pattern = new RegExp(source, `${flags.replace(/[gy]/g, '')}g`);
  for (const input of inputs) {
    const text = build(input);
    parentPort.postMessage({ kind: 'start', index, input: input.name });
    const started = performance.now();
    text.replace(pattern, '');
    parentPort.postMessage({ kind: 'end', index, input: input.name, ms: performance.now() - started });
  }
}
parentPort.postMessage({ kind: 'done' });
