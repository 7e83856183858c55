import { defineConfig } from 'vitest/config';

/**
 * The suite in pieces a developer can run alone (`npm run test:unit`, `test:devices`, `test:integration`,
 * `test:store`, `test:cluster`, `test:e2e`); `npm test` runs every project. A project is a folder of test/: a new
 * test goes in the folder of what it needs (see each project's comment), and so lands in its project.
 */
export default defineConfig({
  test: {
    // Integration tests start real hubs, brokers and child processes on loopback: give them room on 2 cores.
    // Every project inherits these (`extends: true`) unless it says otherwise.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          // One module at a time, in process: no hub, no broker, no store on disk (test/helpers/fake-store.ts).
          // Worker threads start faster than forks, and nothing here needs a process of its own.
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'threads',
        },
      },
      {
        extends: true,
        test: {
          // Device families: fixtures through the adapters, the conformance kit against a real hub, and the
          // simulators on the wire.
          name: 'devices',
          include: [
            'test/devices/**/*.test.ts',
            'test/conformance/**/*.test.ts',
            'test/simulators/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          // One real hub (or a part of it with its sockets) on loopback, on the embedded store; ffmpeg and
          // mosquitto where a test needs them.
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          // The stores themselves, embedded and Redis (a Redis on 127.0.0.1:6379).
          name: 'store',
          include: ['test/store/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          // Several hub instances sharing Redis, or an external broker.
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          // The dashboard in a headless Chromium against a real hub.
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
        },
      },
    ],
  },
});
