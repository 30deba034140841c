import http from 'node:http';
import { sendRequest } from './hostile-request.ts';

export interface HealthSample {
  /** When the request was sent and when it was answered (or given up), on performance.now()'s clock. */
  start: number;
  end: number;
  status?: number;
  error?: string;
}

/**
 * Asks /health again and again, one request at a time on a connection of its own, and keeps every
 * answer's time, so the suite can show that no case ever held up other users' requests.
 */
export function watchHealth(options: { url: () => string; intervalMs: number; timeoutMs: number }): { stop(): Promise<HealthSample[]> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const samples: HealthSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const start = performance.now();
      const answer = await sendRequest(
        options.url(),
        { method: 'GET', url: '/health', headers: {} },
        { timeoutMs: options.timeoutMs, agent },
      );
      samples.push({
        start,
        end: performance.now(),
        ...(answer.status === undefined ? {} : { status: answer.status }),
        ...(answer.error ? { error: answer.error } : {}),
      });
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return samples;
    },
  };
}

/**
 * The times /health was slow or failed, one line per stretch of consecutive bad answers, naming
 * the cases that were on the wire meanwhile.
 */
export function slowHealth(samples: HealthSample[], limitMs: number, casesDuring: (start: number, end: number) => string[]): string[] {
  const lines: string[] = [];
  let stretch: HealthSample[] = [];
  const close = () => {
    if (!stretch.length) return;
    const start = stretch[0]!.start;
    const end = stretch.at(-1)!.end;
    const worst = Math.max(...stretch.map((s) => Math.round(s.end - s.start)));
    const what = [...new Set(stretch.map((s) => String(s.status ?? s.error)))].join('/');
    const during = casesDuring(start, end);
    lines.push(
      `${stretch.length} answer(s) ${what}, the slowest after ${worst} ms, while: ${during.slice(0, 5).join(' | ')}${during.length > 5 ? ` and ${during.length - 5} more` : ''}`,
    );
    stretch = [];
  };
  for (const sample of samples) {
    if (sample.status !== 200 || sample.end - sample.start > limitMs) stretch.push(sample);
    else close();
  }
  close();
  return lines;
}
