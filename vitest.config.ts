import { configDefaults, defineConfig } from 'vitest/config';

// Two projects: everything on Node, and the suite that runs inside workerd with D1
// (test/workers/vitest.config.ts).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/workers/**'],
          setupFiles: ['test/support/setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      './test/workers/vitest.config.ts',
    ],
  },
});
