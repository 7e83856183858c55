import { describe, expect, it } from 'vitest';
import { gb28181 } from '../../devices/gb28181/index.ts';
import { gbCommandRequest } from '../../src/ingest/gb28181/gb28181-server.ts';
import { readManscdp, writeManscdp } from '../../src/ingest/gb28181/manscdp.ts';

/**
 * What the adapter's command encoders give, the GB/T 28181 connector must take: each command's request parses, and
 * 2022's ResetAlarm, which names the alarm it resets in <Info>, reaches the body with its Info (it was once refused
 * by the connector's schema, which took only flat fields, and the command failed with 500).
 */
describe('the GB/T 28181 connector takes every command the adapter encodes', () => {
  const cases: readonly [string, Record<string, unknown>][] = [
    ['guard', { on: true }],
    ['guard', { on: false }],
    ['resetAlarm', {}],
    ['resetAlarm', { method: 5, alarmType: 2 }],
    ['resetAlarm', { method: 2 }],
    ['reboot', {}],
  ];
  for (const [name, params] of cases) {
    it(`${name} ${JSON.stringify(params)}`, () => {
      const command = gb28181.commands?.[name];
      expect(command).toBeDefined();
      const encoded = command?.encode(command.params.parse(params), 'cmd_1');
      const request = gbCommandRequest.parse(encoded);
      expect(request.requestId).toBe('cmd_1');
    });
  }

  it('writes ResetAlarm with its Info as the 2022 edition has it', () => {
    const command = gb28181.commands?.resetAlarm;
    const request = gbCommandRequest.parse(command?.encode({ method: 5, alarmType: 2 }, 'cmd_2'));
    const body = writeManscdp('Control', {
      CmdType: 'DeviceControl',
      SN: 1,
      DeviceID: '34020000001320000001',
      ...request.fields,
    });
    const info = readManscdp(body).body.children.find((child) => child.name === 'Info');
    expect(info?.children.map((child) => [child.name, child.text])).toEqual([
      ['AlarmMethod', '5'],
      ['AlarmType', '2'],
    ]);
  });

  it('still refuses a field that is not an element name, and nesting deeper than one level', () => {
    expect(() =>
      gbCommandRequest.parse({ requestId: 'x', cmdType: 'DeviceControl', fields: { '<bad>': 'x' } }),
    ).toThrow();
    expect(() =>
      gbCommandRequest.parse({
        requestId: 'x',
        cmdType: 'DeviceControl',
        fields: { Info: { Deeper: { AlarmMethod: 5 } } },
      }),
    ).toThrow();
  });
});
