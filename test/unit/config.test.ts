import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { z } from 'zod';
import { adapters } from '../../devices/index.ts';
import { adapterMap } from '../../src/adapters.ts';
import { loadDeployment, readRuntimeSettings, resolveDeployment } from '../../src/config/load.ts';
import type { configSchema, deviceSchema, ruleSchema, userSchema } from '../../src/config/schema.ts';
import { GridhubError } from '../../src/core/errors.ts';
import type { JurisdictionLevel } from '../../src/core/jurisdiction.ts';
import { defaultEdgeSettings } from '../../src/http/edge.ts';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const demoPath = path.join(projectRoot, 'config', 'demo.yaml');
const knownAdapters = adapterMap(adapters);

type ConfigInput = z.input<typeof configSchema>;
type DeviceInput = z.input<typeof deviceSchema>;
type UserInput = z.input<typeof userSchema>;
type RuleInput = z.input<typeof ruleSchema>;
type Ring = [number, number][];

/** A closed, counter-clockwise unit square with its south-west corner at (lon, lat). */
function square(lon: number, lat: number): Ring {
  return [
    [lon, lat],
    [lon + 1, lat],
    [lon + 1, lat + 1],
    [lon, lat + 1],
    [lon, lat],
  ];
}

/**
 * A small valid configuration: one district, one street, one community and two side-by-side unit-square grids
 * (grid-a over lon 10..11, grid-b over lon 11..12, both lat 20..21). Fresh objects on every call, so a test
 * can break one part without touching the others.
 */
function smallConfig() {
  const gridA = {
    id: 'grid-a',
    name: 'Grid A',
    level: 'grid' as const,
    boundary: { type: 'Polygon' as const, coordinates: [square(10, 20)] },
  };
  const gridB = {
    id: 'grid-b',
    name: 'Grid B',
    level: 'grid' as const,
    boundary: { type: 'Polygon' as const, coordinates: [square(11, 20)] },
  };
  const community = {
    id: 'community-one',
    name: 'Community One',
    level: 'community' as const,
    children: [gridA, gridB],
  };
  const street = { id: 'street-one', name: 'Street One', level: 'street' as const, children: [community] };
  const district = {
    id: 'district-one',
    name: 'District One',
    level: 'district' as const,
    children: [street],
  };
  const users: UserInput[] = [
    { id: 'officer', name: 'Officer', role: 'duty_officer', scope: 'district-one', token: 'officer-token' },
    { id: 'worker', name: 'Worker', role: 'grid_worker', grids: ['grid-b'], token: 'worker-token' },
  ];
  const devices: DeviceInput[] = [
    { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access', grid: 'grid-a' },
    { id: 'gate-2', name: 'Gate 2', adapter: 'gate-access', location: [11.5, 20.5] },
  ];
  const rules: RuleInput[] = [
    { event: 'door.forced_open', category: 'intrusion', severity: 'critical', title: 'Door forced open' },
  ];
  const hub: NonNullable<ConfigInput['hub']> = { name: 'Small hub' };
  const config = { hub, jurisdiction: district, users, devices, rules } satisfies ConfigInput;
  return { config, district, street, community, gridA, gridB, users, devices, rules, hub };
}

type Parts = ReturnType<typeof smallConfig>;

/** Runs `action`, expects it to throw a GridhubError with `code`, and returns that error. */
function expectGridhubError(action: () => unknown, code: GridhubError['code']): GridhubError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(GridhubError);
  const error = thrown as GridhubError;
  expect(error.code).toBe(code);
  return error;
}

/** The problems reported at exactly `at` (a problem reads `path: message`). */
function problemsAt(error: GridhubError, at: string): string[] {
  return error.problems.filter((problem) => problem.startsWith(`${at}: `));
}

/**
 * Every device needs its own credentials; the tests of other rules give each device without any a test secret,
 * so that each test sees only the problem it is about.
 */
function withDeviceSecrets(raw: unknown): unknown {
  const config = raw as { devices?: Record<string, unknown>[] };
  if (config.devices === undefined) return raw;
  return {
    ...config,
    devices: config.devices.map((device) =>
      'secret' in device || 'secretSha256' in device
        ? device
        : { ...device, secret: `test-secret-${String(device.id)}` },
    ),
  };
}

function resolve(raw: unknown) {
  return resolveDeployment(withDeviceSecrets(raw), knownAdapters);
}

function expectInvalid(raw: unknown): GridhubError {
  return expectGridhubError(() => resolve(raw), 'GRIDHUB_CONFIG_INVALID');
}

const gridAPath = 'jurisdiction.children[0].children[0].children[0]';
const gridBPath = 'jurisdiction.children[0].children[0].children[1]';

describe('the demo configuration', () => {
  const deployment = loadDeployment(demoPath, knownAdapters);
  const rawDemo = parse(readFileSync(demoPath, 'utf8')) as { devices: DeviceInput[] };

  function countLevel(level: JurisdictionLevel): number {
    return [...deployment.jurisdiction.nodes].filter((node) => node.level === level).length;
  }

  it('loads with one district, two streets, three communities and at least twelve grids', () => {
    expect(countLevel('district')).toBe(1);
    expect(countLevel('street')).toBe(2);
    expect(countLevel('community')).toBe(3);
    expect(countLevel('grid')).toBeGreaterThanOrEqual(12);
    expect([...deployment.jurisdiction.grids]).toHaveLength(countLevel('grid'));
  });

  it('resolves every device it lists to an adapter and a grid', () => {
    expect(rawDemo.devices.length).toBeGreaterThan(0);
    expect(deployment.devices.map((device) => device.id)).toEqual(rawDemo.devices.map((device) => device.id));
    for (const device of deployment.devices) {
      expect([
        'gate-access',
        'sentry-box',
        'alarm-panel-cid',
        'zkteco-adms',
        'hikvision-isapi',
        'gb28181',
      ]).toContain(device.adapter.id);
      expect(device.grid.ref.level).toBe('grid');
      expect(deployment.jurisdiction.grid(device.grid.ref.id)).toBe(device.grid);
    }
  });

  it("binds the GB/T 28181 NVR's channels to grids of their own, under the NVR's national code", () => {
    const byId = (id: string) => deployment.devices.find((device) => device.id === id);
    const nvr = byId('nvr-luming-01');
    expect(nvr?.gb28181?.password).toBeDefined();
    expect(nvr?.grid.ref.id).toBe('grid-luming-01');
    for (const [channel, grid] of [
      ['gbcam-luming-02-west', 'grid-luming-02'],
      ['gbcam-luming-04-north', 'grid-luming-04'],
    ] as const) {
      expect(byId(channel)?.gb28181?.parent, channel).toBe('nvr-luming-01');
      expect(byId(channel)?.grid.ref.id, channel).toBe(grid);
    }
    expect(deployment.receivers.gb28181?.serverId).toBe('34020000002000000001');
  });

  it('places each device given by location in the grid its id names', () => {
    const located = rawDemo.devices.filter((device) => device.location !== undefined);
    expect(located.length).toBeGreaterThanOrEqual(4);
    for (const raw of located) {
      const named = /^gate-([a-z]+-\d{2})-/.exec(raw.id)?.[1];
      expect(named, `${raw.id} names a grid`).toBeDefined();
      const device = deployment.devices.find((candidate) => candidate.id === raw.id);
      expect(device?.grid.ref.id, raw.id).toBe(`grid-${named}`);
    }
  });

  it('places the south gate of Xijiao grid 1 and the south gate of Luming grid 4 where the YAML says', () => {
    const gridOf = (id: string) => deployment.devices.find((device) => device.id === id)?.grid.ref.id;
    expect(gridOf('gate-xijiao-01-south')).toBe('grid-xijiao-01');
    expect(gridOf('gate-zhenxing-04-north')).toBe('grid-zhenxing-04');
    expect(gridOf('gate-luming-04-south')).toBe('grid-luming-04');
  });

  it('keeps its users and rules and fills the hub defaults it leaves out', () => {
    expect(deployment.users.length).toBeGreaterThan(0);
    expect(deployment.rules.map((rule) => rule.event)).toContain('door.forced_open');
    expect(deployment.settings.name).toBe('Qinghe District grid hub (demo)');
    expect(deployment.settings.topicBase).toBe('gridhub');
    expect(deployment.settings.identifiers).toBe('masked');
  });
});

describe('resolveDeployment', () => {
  it('accepts a small hand-built configuration and resolves its devices by grid and by location', () => {
    const { config } = smallConfig();
    const deployment = resolve(config);
    expect([...deployment.jurisdiction.grids].map((grid) => grid.ref.id)).toEqual(['grid-a', 'grid-b']);
    expect(deployment.devices.map((device) => [device.id, device.grid.ref.id])).toEqual([
      ['gate-1', 'grid-a'],
      ['gate-2', 'grid-b'],
    ]);
    expect(deployment.settings).toMatchObject({
      name: 'Small hub',
      topicBase: 'gridhub',
      maxPayloadBytes: 16_384,
      identifiers: 'masked',
    });
    expect(deployment.users.map((user) => user.id)).toEqual(['officer', 'worker']);
  });

  it('fills every hub setting with its default when the hub section is left out', () => {
    const { district } = smallConfig();
    const deployment = resolveDeployment({ jurisdiction: district }, knownAdapters);
    expect(deployment.settings).toEqual({
      name: 'gridhub',
      topicBase: 'gridhub',
      maxPayloadBytes: 16_384,
      identifiers: 'masked',
      identifierHashKey: 'gridhub-demo-identifier-key',
      commandTimeoutSeconds: 5,
      jwtTtlMinutes: 15,
      loginLockout: { failures: 5, windowMinutes: 15, lockMinutes: 15 },
      sessionMaxHours: 12,
      pushRecoverySeconds: 120,
      timezone: 'Asia/Shanghai',
      reporterRetentionDays: 180,
      deadLetterLimit: 10_000,
      eventLogPerDevice: 1000,
      demo: false,
    });
    expect(deployment.devices).toEqual([]);
  });

  it('gives the HTTP edge, when the file says nothing of it, the settings the edge takes by default', () => {
    const { district } = smallConfig();
    const deployment = resolveDeployment({ jurisdiction: district }, knownAdapters);
    expect(deployment.http).toEqual(defaultEdgeSettings);
  });

  describe.each([
    {
      where: 'the root',
      at: '(root)',
      breakIt: (parts: Parts) => Object.assign(parts.config, { colour: 'red' }),
    },
    {
      where: 'the hub section',
      at: 'hub',
      breakIt: (parts: Parts) => Object.assign(parts.hub, { colour: 'red' }),
    },
    {
      where: 'a grid',
      at: gridBPath,
      breakIt: (parts: Parts) => Object.assign(parts.gridB, { colour: 'red' }),
    },
    {
      where: 'a grid boundary',
      at: `${gridAPath}.boundary`,
      breakIt: (parts: Parts) => Object.assign(parts.gridA.boundary, { colour: 'red' }),
    },
    {
      where: 'a user',
      at: 'users[1]',
      breakIt: (parts: Parts) => Object.assign(parts.users[1] ?? {}, { colour: 'red' }),
    },
    {
      where: 'a device',
      at: 'devices[0]',
      breakIt: (parts: Parts) => Object.assign(parts.devices[0] ?? {}, { colour: 'red' }),
    },
    {
      where: 'a rule',
      at: 'rules[0]',
      breakIt: (parts: Parts) => Object.assign(parts.rules[0] ?? {}, { colour: 'red' }),
    },
  ])('an unknown key in $where', ({ at, breakIt }) => {
    it(`is refused at ${at}, naming the key`, () => {
      const parts = smallConfig();
      breakIt(parts);
      const error = expectInvalid(parts.config);
      expect(error.problems).toHaveLength(1);
      expect(problemsAt(error, at)).toEqual([expect.stringContaining('"colour"')]);
    });
  });

  it('refuses a grid whose ring is not closed', () => {
    const parts = smallConfig();
    parts.gridA.boundary.coordinates = [
      [
        [10, 20],
        [11, 20],
        [11, 21],
        [10, 21],
        [10, 20.5],
      ],
    ];
    const error = expectInvalid(parts.config);
    expect(problemsAt(error, `${gridAPath}.boundary.coordinates[0]`)).toEqual([
      expect.stringContaining('closed'),
    ]);
  });

  it('refuses a device that gives both a grid and a location', () => {
    const parts = smallConfig();
    parts.devices[0] = {
      id: 'gate-1',
      name: 'Gate 1',
      adapter: 'gate-access',
      grid: 'grid-a',
      location: [10.5, 20.5],
    };
    const error = expectInvalid(parts.config);
    expect(error.problems).toEqual([
      expect.stringMatching(/^devices\[0\]: give exactly one of grid and location/),
    ]);
  });

  it('refuses a device that gives neither a grid nor a location', () => {
    const parts = smallConfig();
    parts.devices[1] = { id: 'gate-2', name: 'Gate 2', adapter: 'gate-access' };
    const error = expectInvalid(parts.config);
    expect(error.problems).toEqual([
      expect.stringMatching(/^devices\[1\]: give exactly one of grid and location/),
    ]);
  });

  it('refuses a device whose location lies in no grid', () => {
    const parts = smallConfig();
    parts.devices[1] = { id: 'gate-2', name: 'Gate 2', adapter: 'gate-access', location: [50, 50] };
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(1);
    expect(problemsAt(error, 'devices[1].location')).toEqual([expect.stringContaining('lies in no grid')]);
  });

  it('refuses a device whose grid does not exist', () => {
    const parts = smallConfig();
    parts.devices[0] = { id: 'gate-1', name: 'Gate 1', adapter: 'gate-access', grid: 'grid-z' };
    const error = expectInvalid(parts.config);
    expect(problemsAt(error, 'devices[0].grid')).toEqual([expect.stringContaining('"grid-z"')]);
  });

  it('refuses a device whose adapter is unknown, listing the known ones', () => {
    const parts = smallConfig();
    parts.devices[0] = { id: 'gate-1', name: 'Gate 1', adapter: 'smoke-detector', grid: 'grid-a' };
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(1);
    expect(problemsAt(error, 'devices[0].adapter')).toEqual([
      expect.stringMatching(/"smoke-detector".*gate-access/),
    ]);
  });

  it('refuses a department whose users are not of the role department (they would see more than its cases)', () => {
    const parts = smallConfig();
    parts.users.push({
      id: 'cg1',
      name: '城管',
      role: 'department',
      scope: 'district-one',
      token: 'cg1-token',
    });
    const error = expectInvalid({
      ...parts.config,
      departments: [{ id: 'chengguan', name: '城管', userIds: ['cg1', 'officer', 'nobody'] }],
    });
    expect(error.problems).toEqual([
      'departments[0].userIds[1]: "officer" is a duty_officer, not a department user (role: department)',
      'departments[0].userIds[2]: "nobody" is no user',
    ]);
  });

  it('refuses a user whose scope node does not exist', () => {
    const parts = smallConfig();
    parts.users[0] = {
      id: 'officer',
      name: 'Officer',
      role: 'duty_officer',
      scope: 'nowhere',
      token: 'officer-token',
    };
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(1);
    expect(problemsAt(error, 'users[0].scope')).toEqual([expect.stringContaining('"nowhere"')]);
  });

  it('refuses a duty officer without a scope', () => {
    const parts = smallConfig();
    parts.users[0] = { id: 'officer', name: 'Officer', role: 'duty_officer', token: 'officer-token' };
    const error = expectInvalid(parts.config);
    expect(problemsAt(error, 'users[0].scope')).toHaveLength(1);
  });

  it('refuses a grid worker without grids', () => {
    const parts = smallConfig();
    parts.users[1] = { id: 'worker', name: 'Worker', role: 'grid_worker', token: 'worker-token' };
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(1);
    expect(problemsAt(error, 'users[1].grids')).toEqual([expect.stringContaining('grid worker')]);
  });

  it('refuses a grid worker whose grid does not exist', () => {
    const parts = smallConfig();
    parts.users[1] = {
      id: 'worker',
      name: 'Worker',
      role: 'grid_worker',
      grids: ['grid-a', 'grid-x'],
      token: 'worker-token',
    };
    const error = expectInvalid(parts.config);
    expect(problemsAt(error, 'users[1].grids[1]')).toEqual([expect.stringContaining('"grid-x"')]);
  });

  it('refuses two jurisdiction nodes with one id', () => {
    const parts = smallConfig();
    parts.gridB.id = 'grid-a';
    const error = expectInvalid(parts.config);
    expect(problemsAt(error, 'jurisdiction')).toEqual([expect.stringContaining('"grid-a"')]);
  });

  it('refuses two devices with one id', () => {
    const parts = smallConfig();
    parts.devices.push({ id: 'gate-1', name: 'Gate 1 again', adapter: 'gate-access', grid: 'grid-b' });
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(1);
    expect(problemsAt(error, 'devices')).toEqual([expect.stringContaining('"gate-1"')]);
  });

  it("refuses a device whose id is a user's: ids are unique across devices and users", () => {
    const parts = smallConfig();
    parts.devices.push({ id: 'worker', name: 'Worker gate', adapter: 'gate-access', grid: 'grid-b' });
    const error = expectInvalid(parts.config);
    expect(error.problems).toEqual([
      'devices[2].id: "worker" is a user\'s id: ids are unique across devices and users',
    ]);
  });

  it('refuses two users who share a token', () => {
    const parts = smallConfig();
    parts.users.push({
      id: 'officer-2',
      name: 'Officer 2',
      role: 'admin',
      scope: 'district-one',
      token: 'officer-token',
    });
    const error = expectInvalid(parts.config);
    expect(problemsAt(error, 'users')).toEqual(['users: two users share a token']);
  });

  it('refuses a rule for an event no adapter emits', () => {
    const parts = smallConfig();
    parts.rules.push({ event: 'smoke.detected', category: 'fire', severity: 'critical', title: 'Smoke' });
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(1);
    expect(problemsAt(error, 'rules[1].event')).toEqual([expect.stringContaining('"smoke.detected"')]);
  });

  it('reports three different problems together, each at its own path', () => {
    const parts = smallConfig();
    parts.devices[0] = { id: 'gate-1', name: 'Gate 1', adapter: 'smoke-detector', grid: 'grid-a' };
    parts.users[0] = {
      id: 'officer',
      name: 'Officer',
      role: 'duty_officer',
      scope: 'nowhere',
      token: 'officer-token',
    };
    parts.rules.push({ event: 'smoke.detected', category: 'fire', severity: 'critical', title: 'Smoke' });
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(3);
    expect(problemsAt(error, 'devices[0].adapter')).toHaveLength(1);
    expect(problemsAt(error, 'users[0].scope')).toHaveLength(1);
    expect(problemsAt(error, 'rules[1].event')).toHaveLength(1);
  });

  it('reports three schema problems together, each at its own path', () => {
    const parts = smallConfig();
    Object.assign(parts.hub, { maxPayloadBytes: 1 });
    parts.gridB.name = '';
    parts.devices[1] = { id: 'Gate 2!', name: 'Gate 2', adapter: 'gate-access', location: [11.5, 20.5] };
    const error = expectInvalid(parts.config);
    expect(error.problems).toHaveLength(3);
    expect(problemsAt(error, 'hub.maxPayloadBytes')).toHaveLength(1);
    expect(problemsAt(error, `${gridBPath}.name`)).toHaveLength(1);
    expect(problemsAt(error, 'devices[1].id')).toHaveLength(1);
  });
});

describe('every configuration problem at once', () => {
  it('reports cross-reference problems beside the schema problems that used to hide them', () => {
    const parts = smallConfig();
    Object.assign(parts.hub, { maxPayloadBytes: 1 });
    parts.devices.push({ id: 'gate-3', name: 'Gate 3', adapter: 'gate-access', grid: 'grid-nowhere' });
    parts.users.push({
      id: 'worker',
      name: 'Again',
      role: 'admin',
      scope: 'district-one',
      token: 'again-token',
    });
    parts.rules.push({ event: 'smoke.detected', category: 'fire', severity: 'critical', title: 'Smoke' });
    const error = expectInvalid(parts.config);
    expect(error.problems).toEqual([
      expect.stringMatching(/^hub\.maxPayloadBytes: /),
      'users: id "worker" is used more than once',
      'devices[2].grid: no grid "grid-nowhere"',
      'rules[1].event: no adapter emits "smoke.detected"',
    ]);
  });

  it("takes a centre's roster of its duty officers, and refuses one naming others or no place", () => {
    const parts = smallConfig();
    const config = {
      ...parts.config,
      rosters: [
        { grid: 'district-one', shifts: [{ users: ['officer'], from: '08:00', to: '20:00' }] },
        { grid: 'community-one', shifts: [{ users: ['officer', 'worker'], from: '08:00', to: '20:00' }] },
        { grid: 'nowhere', shifts: [{ users: ['officer'], from: '08:00', to: '20:00' }] },
      ],
    };
    const error = expectInvalid(config);
    expect(error.problems).toEqual([
      'rosters[1].shifts[0].users[0]: "officer" is not a duty officer of community-one',
      'rosters[1].shifts[0].users[1]: "worker" is not a duty officer of community-one',
      'rosters[2].grid: no grid or centre "nowhere"',
      'rosters[2].shifts[0].users[0]: "officer" is not a duty officer of nowhere',
    ]);
  });

  it('checks the valid items of a list at their own indices, and says nothing more of a refused item', () => {
    const parts = smallConfig();
    parts.devices.unshift({ id: 'Bad Id', name: 'Bad', adapter: 'gate-access', grid: 'grid-a' });
    parts.devices.push({ id: 'gate-3', name: 'Gate 3', adapter: 'gate-access', grid: 'grid-nowhere' });
    // A grid the schema refuses: devices on it are not reported again as on a missing grid.
    parts.gridB.name = '';
    const error = expectInvalid(parts.config);
    expect(error.problems).toEqual([
      `${gridBPath}.name: Too small: expected string to have >=1 characters`,
      expect.stringMatching(/^devices\[0\]\.id: /),
      'devices[3].grid: no grid "grid-nowhere"',
    ]);
  });
});

describe('loadDeployment', () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'gridhub-config-'));
  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('refuses a file that is not valid YAML as an invalid configuration', () => {
    const file = path.join(directory, 'broken.yaml');
    writeFileSync(file, 'hub:\n  name: [unclosed\njurisdiction: {\n');
    const error = expectGridhubError(() => loadDeployment(file, knownAdapters), 'GRIDHUB_CONFIG_INVALID');
    expect(error.message).toContain(file);
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.problems[0]).toMatch(/^line \d+: /);
    expect(error.problems[0]).toMatch(/^line 3: hub\.name/);
  });

  it('reports a syntax error at its line, naming the key it is in', () => {
    const file = path.join(directory, 'unterminated.yaml');
    writeFileSync(
      file,
      'hub:\n  name: Small\ndevices:\n  - id: gate-1\n    name: "unterminated\n    grid: g\n',
    );
    const error = expectGridhubError(() => loadDeployment(file, knownAdapters), 'GRIDHUB_CONFIG_INVALID');
    expect(error.problems).toEqual([
      expect.stringMatching(/^line \d+: devices\[0\]\.name: Missing closing "quote/),
    ]);
    expect(error.problems[0]).not.toMatch(/^line 0/);
  });

  it('gives schema and cross-reference problems of a file their lines', () => {
    const file = path.join(directory, 'lines.yaml');
    const config = smallConfig().config;
    writeFileSync(
      file,
      [
        'hub:',
        '  name: Small hub',
        '  maxPayloadBytes: 1',
        `jurisdiction: ${JSON.stringify(config.jurisdiction)}`,
        'users:',
        ...config.users.map((user) => `  - ${JSON.stringify(user)}`),
        'devices:',
        '  - id: gate-1',
        '    name: Gate 1',
        '    adapter: gate-access',
        '    secret: a-secret-of-gate-1',
        '    grid: grid-nowhere',
        'rules:',
        '  - { event: smoke.detected, category: fire, severity: critical, title: Smoke }',
        '',
      ].join('\n'),
    );
    const error = expectGridhubError(() => loadDeployment(file, knownAdapters), 'GRIDHUB_CONFIG_INVALID');
    expect(error.problems).toEqual([
      expect.stringMatching(/^hub\.maxPayloadBytes: .* \(line 3\)$/),
      'devices[0].grid: no grid "grid-nowhere" (line 13)',
      'rules[0].event: no adapter emits "smoke.detected" (line 15)',
    ]);
  });

  it('refuses a YAML file with a duplicated key as an invalid configuration', () => {
    const file = path.join(directory, 'duplicate.yaml');
    writeFileSync(file, 'hub:\n  name: one\nhub:\n  name: two\n');
    const error = expectGridhubError(() => loadDeployment(file, knownAdapters), 'GRIDHUB_CONFIG_INVALID');
    expect(error.problems.length).toBeGreaterThan(0);
  });

  it('reports schema problems of a well-formed YAML file with their paths', () => {
    const file = path.join(directory, 'wrong.yaml');
    writeFileSync(
      file,
      'jurisdiction:\n  id: district-one\n  name: District\n  level: street\n  children: []\n',
    );
    const error = expectGridhubError(() => loadDeployment(file, knownAdapters), 'GRIDHUB_CONFIG_INVALID');
    expect(problemsAt(error, 'jurisdiction.level')).toHaveLength(1);
    expect(problemsAt(error, 'jurisdiction.children')).toHaveLength(1);
  });

  it('refuses a missing file as unreadable, naming it', () => {
    const file = path.join(directory, 'missing.yaml');
    const error = expectGridhubError(() => loadDeployment(file, knownAdapters), 'GRIDHUB_CONFIG_UNREADABLE');
    expect(error.message).toContain(file);
  });
});

describe('readRuntimeSettings', () => {
  const root = path.resolve('/srv/gridhub');

  it('defaults to ports 8080 and 1883, the demo config and a data folder under the project root', () => {
    expect(readRuntimeSettings({}, root)).toEqual({
      httpPort: 8080,
      mqttPort: 1883,
      configPath: path.join(root, 'config', 'demo.yaml'),
      dataDir: path.join(root, 'data'),
    });
  });

  it('takes PORT, MQTT_PORT, GRIDHUB_CONFIG and DATA_DIR from the environment', () => {
    const configPath = path.resolve('/etc/gridhub/site.yaml');
    const dataDir = path.resolve('/var/lib/gridhub');
    expect(
      readRuntimeSettings(
        { PORT: '9090', MQTT_PORT: '0', GRIDHUB_CONFIG: configPath, DATA_DIR: dataDir, HOME: '/root' },
        root,
      ),
    ).toEqual({ httpPort: 9090, mqttPort: 0, configPath, dataDir });
  });

  it('treats variables set to nothing as unset', () => {
    expect(readRuntimeSettings({ PORT: '', MQTT_PORT: ' ', GRIDHUB_CONFIG: '', DATA_DIR: '' }, root)).toEqual(
      readRuntimeSettings({}, root),
    );
  });

  it.each(['abc', '70000', '-1', '80.5'])('refuses PORT=%s, naming PORT', (value) => {
    const error = expectGridhubError(
      () => readRuntimeSettings({ PORT: value }, root),
      'GRIDHUB_CONFIG_INVALID',
    );
    expect(problemsAt(error, 'PORT')).toHaveLength(1);
  });

  it('refuses an out-of-range MQTT_PORT, naming MQTT_PORT', () => {
    const error = expectGridhubError(
      () => readRuntimeSettings({ MQTT_PORT: '65536' }, root),
      'GRIDHUB_CONFIG_INVALID',
    );
    expect(problemsAt(error, 'MQTT_PORT')).toHaveLength(1);
  });
});

describe('device credentials and timings in the config', () => {
  const base = () => smallConfig();

  it('refuses a device with no credentials, and one with both a secret and its digest', () => {
    const parts = base();
    const none = {
      ...parts.config,
      devices: [{ id: 'gate-1', name: 'Gate 1', adapter: 'gate-access', grid: 'grid-a' }],
    };
    const both = {
      ...parts.config,
      devices: [
        {
          id: 'gate-1',
          name: 'Gate 1',
          adapter: 'gate-access',
          grid: 'grid-a',
          secret: 'a-long-enough-secret',
          secretSha256: 'a'.repeat(64),
        },
      ],
    };
    for (const config of [none, both]) {
      const error = expectGridhubError(
        () => resolveDeployment(config, knownAdapters),
        'GRIDHUB_CONFIG_INVALID',
      );
      expect(error.problems).toEqual([
        'devices[0]: give exactly one of secret and secretSha256 (a device the hub only calls may give http instead): every device has its own credentials',
      ]);
    }
  });

  it('keeps only the digest of a secret, and takes a digest as it is', () => {
    const parts = base();
    const digest = 'b'.repeat(64);
    const deployment = resolveDeployment(
      {
        ...parts.config,
        devices: [
          {
            id: 'gate-1',
            name: 'Gate 1',
            adapter: 'gate-access',
            grid: 'grid-a',
            secret: 'a-long-enough-secret',
          },
          { id: 'gate-2', name: 'Gate 2', adapter: 'gate-access', grid: 'grid-b', secretSha256: digest },
        ],
      },
      knownAdapters,
    );
    expect(deployment.devices[0]?.secretDigest).toBe(
      createHash('sha256').update('a-long-enough-secret').digest('hex'),
    );
    expect(JSON.stringify(deployment.devices[0])).not.toContain('a-long-enough-secret');
    expect(deployment.devices[1]?.secretDigest).toBe(digest);
  });

  it("takes the adapter's liveness and watchdog defaults, and a device's overrides", () => {
    const parts = base();
    const deployment = resolve({
      ...parts.config,
      devices: [
        { id: 'box-1', name: 'Box 1', adapter: 'sentry-box', grid: 'grid-a' },
        {
          id: 'box-2',
          name: 'Box 2',
          adapter: 'sentry-box',
          grid: 'grid-b',
          offlineAfterSeconds: 2,
          watchdogs: { 'guard.check_in_missed': 60 },
        },
      ],
    });
    expect(deployment.devices.map((device) => [device.offlineAfterMs, device.watchdogs])).toEqual([
      [90_000, [{ resetBy: 'guard.check_in', raises: 'guard.check_in_missed', afterMs: 1_800_000 }]],
      [2_000, [{ resetBy: 'guard.check_in', raises: 'guard.check_in_missed', afterMs: 60_000 }]],
    ]);
  });

  it('refuses a watchdog override the adapter does not have, and a clearing event nobody emits', () => {
    const parts = base();
    const error = expectInvalid({
      ...parts.config,
      devices: [
        {
          id: 'gate-1',
          name: 'Gate 1',
          adapter: 'gate-access',
          grid: 'grid-a',
          watchdogs: { 'guard.check_in_missed': 5 },
        },
      ],
      rules: [
        {
          event: 'device.offline',
          category: 'device_offline',
          severity: 'major',
          title: 'Offline',
          clearedBy: 'device.reborn',
        },
      ],
    });
    expect(error.problems).toEqual([
      'devices[0].watchdogs.guard.check_in_missed: the gate-access adapter has no watchdog raising it',
      'rules[0].clearedBy: no adapter emits "device.reborn"',
    ]);
  });
});
