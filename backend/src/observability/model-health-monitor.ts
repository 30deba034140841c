import { parseModelId } from '../providers/index.ts';
import type { HealthTarget, HealthTargetKind } from './model-health-targets.ts';

/** `unknown` only until the first check of a remote server has answered. */
export type HealthStatus = 'ok' | 'down' | 'unknown';

/** What anyone may see: a name and whether it works (no host, no error text). */
export interface PublicModelHealth {
  default: { name: string; status: HealthStatus };
  embedding: { name: string; status: HealthStatus };
  providers: Array<{ name: string; status: HealthStatus }>;
}

/** What an administrator sees of one target: where it is and how its last check went. */
export interface TargetHealth {
  name: string;
  kind: HealthTargetKind;
  status: HealthStatus;
  /** The models list the check asks for; null for the local models. */
  url: string | null;
  lastCheckedAt: string | null;
  latencyMs: number | null;
  error: string | null;
}

export interface ModelHealthOptions {
  targets: HealthTarget[];
  /** The model sessions use when they name none: its provider's status is shown as its own. */
  defaultModel: string;
  intervalMs: number;
  timeoutMs: number;
  /** The model calls' own fetch (the global one): the checks reach a server the way they do. */
  fetch?: typeof fetch;
  now?: () => number;
}

interface CheckState {
  status: HealthStatus;
  lastCheckedAt: number | null;
  latencyMs: number | null;
  error: string | null;
}

/**
 * Watches the model servers the server depends on, in the background: every interval, each
 * remote target's models list is asked for (no tokens spent), all at once, each within the
 * timeout. Requests only ever read the last result, so a slow or dead model server never slows
 * /health. Timers are unref'd (they never keep the process alive) and `stop` waits for a check
 * in flight after aborting it.
 */
export class ModelHealthMonitor {
  private readonly states = new Map<string, CheckState>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stopper = new AbortController();
  private readonly fetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: ModelHealthOptions) {
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
    for (const target of options.targets) {
      const local = target.url === undefined;
      this.states.set(key(target), { status: local ? 'ok' : 'unknown', lastCheckedAt: null, latencyMs: null, error: null });
    }
  }

  /** Checks now, then every interval. */
  start(): void {
    if (this.timer || this.stopper.signal.aborted) return;
    void this.checkNow();
    this.timer = setInterval(() => void this.checkNow(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.stopper.abort();
    await this.running;
  }

  /** One round of checks; a round still in flight is joined rather than doubled. */
  checkNow(): Promise<void> {
    this.running ??= Promise.all(this.options.targets.map((target) => this.check(target))).then(() => {
      this.running = undefined;
    });
    return this.running;
  }

  summary(): PublicModelHealth {
    const providers = this.options.targets.filter((t) => t.kind === 'provider');
    const embedding = this.options.targets.find((t) => t.kind === 'embedding');
    const defaultProvider = parseModelId(this.options.defaultModel)?.provider;
    const statusOf = (target: HealthTarget | undefined): HealthStatus => (target ? this.states.get(key(target))!.status : 'unknown');
    return {
      default: { name: this.options.defaultModel, status: statusOf(providers.find((t) => t.name === defaultProvider)) },
      embedding: { name: embedding?.name ?? '', status: statusOf(embedding) },
      providers: providers.map((target) => ({ name: target.name, status: statusOf(target) })),
    };
  }

  details(): TargetHealth[] {
    return this.options.targets.map((target) => {
      const state = this.states.get(key(target))!;
      return {
        name: target.name,
        kind: target.kind,
        status: state.status,
        url: target.url ?? null,
        lastCheckedAt: state.lastCheckedAt === null ? null : new Date(state.lastCheckedAt).toISOString(),
        latencyMs: state.latencyMs,
        error: state.error,
      };
    });
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  private async check(target: HealthTarget): Promise<void> {
    if (target.url === undefined || this.stopper.signal.aborted) return;
    const started = performance.now();
    const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(this.options.timeoutMs)]);
    let error: string | null = null;
    try {
      const response = await this.fetch(target.url, { headers: { accept: 'application/json', ...target.headers }, signal });
      // The list itself is not needed: only that the server answers and accepts the key.
      await response.body?.cancel().catch(() => undefined);
      if (!response.ok) error = `HTTP ${response.status} from the models list`;
    } catch (thrown) {
      if (this.stopper.signal.aborted) return;
      error = signal.aborted ? `No answer within ${this.options.timeoutMs} ms` : describe(thrown);
    }
    this.states.set(key(target), {
      status: error ? 'down' : 'ok',
      lastCheckedAt: this.now(),
      latencyMs: Math.round(performance.now() - started),
      error,
    });
  }
}

function key(target: HealthTarget): string {
  return `${target.kind}:${target.name}`;
}

/** A failed connection in words: fetch's own message is only "fetch failed"; its cause says why. */
function describe(thrown: unknown): string {
  const cause = (thrown as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return (detail ? `${message}: ${detail}` : message).slice(0, 300);
}
