// Loads a TypeScript worker module: worker threads do not inherit the parent's module hooks.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
