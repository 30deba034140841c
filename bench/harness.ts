import http from 'node:http';
import os from 'node:os';
import pg from 'pg';

export interface BenchResult {
  name: string;
  driver: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  /** Operations per second over the whole run. */
  throughput: number;
  /** The target, as text, where the spec or an issue sets one. */
  target?: string;
  note?: string;
}

export interface BenchContext {
  record(result: BenchResult): void;
  /** Command-line options (`--driver pglite` is `driver` → `pglite`, a bare `--large` is `large` → true). */
  options: ReadonlyMap<string, string | true>;
}

export type Bench = (context: BenchContext) => Promise<void>;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Times `n` calls of `fn` with `concurrency` in flight, after `warmup` untimed calls.
 * Latencies in milliseconds.
 */
export async function measure(
  meta: { name: string; driver: string; target?: string },
  fn: () => Promise<unknown>,
  options: { n: number; concurrency?: number; warmup?: number },
): Promise<BenchResult> {
  for (let i = 0; i < (options.warmup ?? 50); i++) await fn();
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < options.n) {
      next++;
      const t0 = performance.now();
      await fn();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 1 }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ...meta,
    n: options.n,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    throughput: options.n / elapsed,
  };
}

/** The 1-, 5- and 15-minute load averages, for a row's note: the machine is shared. */
export function load(): string {
  return `load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

export function printTable(results: BenchResult[]): void {
  const ms = (v: number) => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
  const rows = [
    ['name', 'driver', 'N', 'p50 ms', 'p95 ms', 'p99 ms', 'ops/s', 'target', 'note'],
    ...results.map((r) => [
      r.name,
      r.driver,
      String(r.n),
      ms(r.p50),
      ms(r.p95),
      ms(r.p99),
      r.throughput ? r.throughput.toFixed(0) : '-',
      r.target ?? '',
      r.note ?? '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(
      row
        .map((cell, j) => cell.padEnd(widths[j]!))
        .join('  ')
        .trimEnd(),
    );
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Creates database `name` on the server at `adminUrl`; resolves to its connection string. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * A minimal HTTP/1.1 client on one kept-alive connection. The load runs in the server's own
 * process, so a lighter client than fetch leaves more of the measured time to the server.
 */
export function keepAliveClient(base: string, headers: Record<string, string>) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(base);
  return (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: () => unknown }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const request = http.request(
        {
          host: hostname,
          port,
          path,
          method,
          agent,
          headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: response.statusCode ?? 0, json: () => JSON.parse(text) as unknown });
          });
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
}
