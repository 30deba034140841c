#!/usr/bin/env node
// The `agentry` command: loads the TypeScript CLI through the tsx loader.
import { register } from 'tsx/esm/api';

register();
await import('../backend/src/cli.ts');
