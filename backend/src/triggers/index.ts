export { createTriggerSystem, type TriggerSystem, type TriggerSystemDeps } from './trigger-system.ts';
export { TriggerService, type TriggerView, type RunView } from './trigger-service.ts';
export { TriggerWorker } from './trigger-worker.ts';
export { approvalWaitNotifier } from './approval-wait-notifier.ts';
export {
  NotificationService,
  notificationsTopic,
  type NotificationInput,
  type NotificationKind,
  type NotificationView,
} from './notification-service.ts';
export {
  triggerInputSchema,
  scheduleSchema,
  triggerKinds,
  missedRunPolicies,
  overlapPolicies,
  type TriggerInput,
  type TriggerDefinition,
} from './trigger-definition.ts';
export { Schedule, isTimeZone, type ScheduleSpec } from './schedule.ts';
export { type RunLauncher, type LaunchRequest } from './run-launcher.ts';
export { rotateWebhookSecrets } from './webhook-secrets.ts';
export { WebhookReceiver, signatureToleranceMs, type Delivery, type DeliveryHeaders } from './webhook-receiver.ts';
