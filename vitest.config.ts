import { defineConfig } from 'vitest/config';

export default defineConfig({
  // tsyringe needs legacy (TypeScript `experimentalDecorators`) parameter decorators.
  oxc: { decorator: { legacy: true } } as never,
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
