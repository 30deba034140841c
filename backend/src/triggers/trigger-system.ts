import type { UserService } from '../accounts/index.ts';
import type { AgentRunner } from '../agent/index.ts';
import type { Config } from '../config.ts';
import type { PostgresDatabase } from '../database/index.ts';
import type { EventBus } from '../events/index.ts';
import type { CredentialVault } from '../integrations/index.ts';
import type { AgentService, SessionService } from '../sessions/index.ts';
import type { TemplateService } from '../templates/index.ts';
import { FiringStarter } from './firing-starter.ts';
import { IntegrationPoller, type PollTools } from './integration-poller.ts';
import { NotificationService } from './notification-service.ts';
import { RunDelivery } from './run-delivery.ts';
import { RunOutcomes } from './run-outcomes.ts';
import { sessionRunLauncher, type RunLauncher } from './run-launcher.ts';
import { ScheduleSweep } from './schedule-sweep.ts';
import { TriggerService } from './trigger-service.ts';
import { TriggerWorker } from './trigger-worker.ts';
import { WebhookReceiver } from './webhook-receiver.ts';
import { WebhookSecrets } from './webhook-secrets.ts';

export interface TriggerSystemDeps {
  database: PostgresDatabase;
  bus: EventBus;
  users: UserService;
  sessions: SessionService;
  agents: AgentService;
  templates: TemplateService;
  runner: AgentRunner;
  vault: CredentialVault;
  /** Connector tools called as a trigger's owner (integration-event polls). */
  integrationTools: PollTools;
  /** Where the console is: deliveries link to the run's session there. */
  publicUrl?: string | undefined;
  settings: Config['triggers'];
  /** Names this instance in firing leases. */
  instanceId: string;
  /** Crash tests' kill point between claiming a firing and starting it. */
  reach: (point: 'firing-claimed') => void;
  /** The clock schedules are read against (tests inject one). */
  now?: (() => number) | undefined;
  /** Shared with what notifies outside the area (an unattended run waiting for approval); made here when absent. */
  notifications?: NotificationService | undefined;
  /** Starts runs; the session launcher unless a test counts them. */
  launcher?: RunLauncher | undefined;
  onError: (error: unknown, context: string) => void;
}

export interface TriggerSystem {
  triggers: TriggerService;
  notifications: NotificationService;
  worker: TriggerWorker;
  secrets: WebhookSecrets;
  webhooks: WebhookReceiver;
}

/** An instant that passed more than this long ago, with no instance to fire it, was missed. */
const lateAfterMs = 60_000;

/** Wires the triggers area: the service behind the routes, notifications, and the background worker (started by the caller). */
export function createTriggerSystem(deps: TriggerSystemDeps): TriggerSystem {
  const now = deps.now ?? Date.now;
  const { database, bus, settings, onError } = deps;
  const notifications = deps.notifications ?? new NotificationService({ database, bus });
  const launcher = deps.launcher ?? sessionRunLauncher(deps);
  const secrets = new WebhookSecrets({ vault: deps.vault, graceMs: settings.secretGraceMs });
  const delivery = new RunDelivery({ database, tools: deps.integrationTools, publicUrl: deps.publicUrl, onError });
  const outcomes = new RunOutcomes({ database, notifications, launcher, delivery, onError });
  const starter = new FiringStarter({
    database,
    launcher,
    notifications,
    delivery,
    instanceId: deps.instanceId,
    leaseTtlMs: settings.leaseTtlMs,
    maxInFlight: settings.maxInFlight,
    reach: deps.reach,
    onError,
  });
  const worker = new TriggerWorker({
    sweep: new ScheduleSweep({ database, now, lateAfterMs }),
    poller: new IntegrationPoller({ database, tools: deps.integrationTools, notifications, now, onError }),
    starter,
    outcomes,
    bus,
    tickMs: settings.tickMs,
    onError,
  });
  const triggers = new TriggerService({
    database,
    templates: deps.templates,
    agents: deps.agents,
    secrets,
    tools: deps.integrationTools,
    now,
    wake: () => worker.wake(),
  });
  const webhooks = new WebhookReceiver({ database, secrets, now, wake: () => worker.wake() });
  return { triggers, notifications, worker, secrets, webhooks };
}
