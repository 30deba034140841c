import type { Config } from './config.ts';
import type { MigrationRunner, MigrationStatus } from './database/index.ts';
import { AppError } from './errors.ts';

export interface FeatureState {
  enabled: boolean;
  available: boolean;
  reason?: string;
}

export interface FeatureStates {
  knowledgeBase: FeatureState;
  integrations: FeatureState;
  chatAutoExecute: FeatureState;
}

export type FeatureName = keyof FeatureStates;

const cacheMs = 10_000;

/**
 * Which features this installation offers: switched on in the config, and able to work on this
 * database. The knowledge base needs pgvector: on a server without it (or whose role may not create
 * it), everything else migrates and the knowledge base answers 503 FEATURE_UNAVAILABLE until
 * pgvector is installed and `agentry migrate up` runs again.
 */
export class Features {
  private cached: { at: number; states: FeatureStates } | undefined;

  constructor(
    private readonly enabled: Config['features'],
    private readonly migrations: MigrationRunner,
  ) {}

  /** The states, at most ten seconds old. */
  async states(): Promise<FeatureStates> {
    if (this.cached && Date.now() - this.cached.at < cacheMs) return this.cached.states;
    return this.fromStatus(await this.migrations.status());
  }

  /** The states for a migration status the caller already read (and a refreshed cache). */
  fromStatus(status: MigrationStatus): FeatureStates {
    const vectorReady = status.vectorAvailable && status.migrations.every((m) => m.track !== 'vector' || m.executedAt);
    const off = (name: string): FeatureState => ({ enabled: false, available: false, reason: `Switched off by ${name}.` });
    const states: FeatureStates = {
      knowledgeBase: !this.enabled.knowledgeBase
        ? off('FEATURE_KNOWLEDGE_BASE=false')
        : vectorReady
          ? { enabled: true, available: true }
          : {
              enabled: true,
              available: false,
              reason: status.vectorAvailable
                ? 'The knowledge base tables are not migrated yet: run "agentry migrate up".'
                : 'The knowledge base needs the pgvector extension in this database, which it does not have and its role cannot create. Install pgvector (0.8 or later recommended) on the server and, unless the role is a superuser, run "create extension vector" in the database as one; then run "agentry migrate up".',
            },
      integrations: this.enabled.integrations ? { enabled: true, available: true } : off('FEATURE_INTEGRATIONS=false'),
      chatAutoExecute: this.enabled.chatAutoExecute ? { enabled: true, available: true } : off('FEATURE_CHAT_AUTO_EXECUTE=false'),
    };
    this.cached = { at: Date.now(), states };
    return states;
  }

  /** Throws 503 FEATURE_UNAVAILABLE, with the fix in the message, unless `name` works here. */
  async require(name: FeatureName): Promise<void> {
    const state = (await this.states())[name];
    if (!state.available) throw new AppError('FEATURE_UNAVAILABLE', state.reason, { details: { feature: name } });
  }
}
