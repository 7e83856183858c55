import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfigPath,
  metricValue,
  projectRoot,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

const execute = promisify(execFile);

/** Runs one of the project's command-line tools as `npm run` does, and returns what it printed. */
function tool(script: string, args: string[], env: Record<string, string> = {}) {
  return execute(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
}

describe('the command-line tools against a running hub', () => {
  let hub: TestHub;
  let officer: RecordingClient;

  beforeAll(async () => {
    hub = await startTestHub();
    officer = await connectClient(hub.httpUrl, 'demo-officer-qinghe');
  });

  afterAll(async () => {
    officer?.close();
    await hub?.stop();
  });

  it('npm run sim runs every sentry box of the config at once, each with its own secret', async () => {
    const { stdout } = await tool('simulators/cli.ts', [
      'sentry',
      ...['--url', hub.mqttUrl, '--config', demoConfigPath, '--secrets-from-config', '--event', 'panic'],
    ]);
    expect(stdout).toMatch(/sent panic from 3 device/);
    const panics = await Promise.all([1, 2, 3].map((n) => officer.nth('incident:new', n)));
    expect((panics as Incident[]).map((incident) => incident.device.id).sort()).toEqual([
      'sentry-luming-03',
      'sentry-xijiao-01',
      'sentry-zhenxing-02',
    ]);
    expect(await metricValue(hub.httpUrl, 'gridhub_mqtt_refusals_total{reason="bad_credentials"}')).toBe(0);
  });

  it('npm run sim refuses bad arguments with the usage and exit code 2', async () => {
    const failure = await tool('simulators/cli.ts', ['lamp']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('Usage: npm run sim') });
  });

  it('npm run devices provisions, lists, commands and disables a device', async () => {
    const env = { GRIDHUB_URL: hub.httpUrl, GRIDHUB_TOKEN: 'demo-integrator-qinghe' };
    const added = await tool(
      'src/cli/devices-cli.ts',
      [
        'add',
        'sentry-luming-01-b',
        '--name',
        'Luming 1 second box',
        '--adapter',
        'sentry-box',
        '--grid',
        'grid-luming-01',
      ],
      env,
    );
    const { secret, device } = JSON.parse(added.stdout) as { secret: string; device: { gridId: string } };
    expect(device.gridId).toBe('grid-luming-01');

    const sim = tool('simulators/cli.ts', [
      'sentry',
      '--url',
      hub.mqttUrl,
      '--device',
      'sentry-luming-01-b',
      // One argument: a generated secret may begin with '-', which a separate argument would read as an option.
      `--secret=${secret}`,
      '--rate',
      '0',
    ]);
    const listed = async () => (await tool('src/cli/devices-cli.ts', ['list'], env)).stdout;
    for (
      let attempt = 0;
      !/sentry-luming-01-b\s+sentry-box\s+grid-luming-01\s+online/.test(await listed());
      attempt++
    ) {
      if (attempt > 100) throw new Error('the device never came online');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const armed = await tool('src/cli/devices-cli.ts', ['command', 'sentry-luming-01-b', 'arm'], env);
    expect(JSON.parse(armed.stdout)).toMatchObject({ ok: true });
    const disabled = await tool('src/cli/devices-cli.ts', ['disable', 'sentry-luming-01-b'], env);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ status: { disabled: true } });
    // Disabled: the hub closed its session and refuses it from now on, so the simulator gives up.
    await sim.catch(() => undefined);
    expect(await listed()).toMatch(/sentry-luming-01-b\s+sentry-box\s+grid-luming-01\s+disabled/);
  });

  it('npm run devices shows the hub’s refusal and exits 1', async () => {
    const refused = await tool('src/cli/devices-cli.ts', ['rotate', 'gate-xijiao-01-north'], {
      GRIDHUB_URL: hub.httpUrl,
      GRIDHUB_TOKEN: 'demo-worker-xijiao-01',
    }).catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({
      code: 1,
      stderr: 'devices: 403 a grid_worker may not provision devices\n',
    });
  });
});
