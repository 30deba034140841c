import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['backend/**/*.test.ts', 'bench/**/*.test.ts', 'web/test/**/*.test.ts', 'web/src/**/*.test.ts', 'clients/**/*.test.ts'],
    globalSetup: ['backend/test/global-setup.ts', 'web/test/build-console.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
