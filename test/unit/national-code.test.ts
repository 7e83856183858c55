import { describe, expect, it } from 'vitest';
import {
  channelKinds,
  domainOf,
  nationalCode,
  nationalCodePattern,
  readNationalCode,
  typeCodes,
} from '../../src/ingest/gb28181/national-code.ts';

describe('the 20-digit national code', () => {
  it('splits a code into centre, industry, type, network and serial', () => {
    expect(readNationalCode('34020000001320000001')).toEqual({
      centre: '34020000',
      industry: '00',
      type: 132,
      network: 0,
      serial: '000001',
      kind: 'ipc',
    });
  });

  it.each([
    ['34020000001110000001', 'dvr'],
    ['34020000001180000001', 'nvr'],
    ['34020000001310000001', 'camera'],
    ['34020000001320000001', 'ipc'],
    ['31010000001340000001', 'alarm-input'],
    ['34020000001350000001', 'alarm-output'],
    ['34020000002000000001', 'platform'],
    ['34020000002150000001', 'business-group'],
    ['34020000002160000001', 'virtual-organisation'],
    ['34020000001990000001', 'other'],
  ])('reads %s as %s', (code, kind) => {
    expect(readNationalCode(code)?.kind).toBe(kind);
  });

  it('reads the network digit', () => {
    expect(readNationalCode('34020000001327000001')?.network).toBe(7);
  });

  it('refuses what is not 20 digits', () => {
    for (const code of [
      '3402000000132000000',
      '340200000013200000011',
      '3402000000132000000a',
      '',
      ' 34020000001320000001',
    ])
      expect(readNationalCode(code), code).toBeUndefined();
    expect(nationalCodePattern.test('34020000001320000001')).toBe(true);
  });

  it('builds a code from its parts and refuses parts that do not fit', () => {
    expect(nationalCode({ centre: '34020000', industry: '00', type: 132, network: 0, serial: 1 })).toBe(
      '34020000001320000001',
    );
    expect(
      nationalCode({ centre: '3402', industry: '00', type: 132, network: 0, serial: 1 }),
    ).toBeUndefined();
    expect(
      nationalCode({ centre: '34020000', industry: '00', type: 132, network: 0, serial: 1234567 }),
    ).toBeUndefined();
  });

  it('names the SIP domain of a code', () => {
    expect(domainOf('34020000002000000001')).toBe('3402000000');
    expect(domainOf('nope')).toBeUndefined();
  });

  it('counts cameras and alarm inputs and outputs as channels, and not recorders or platforms', () => {
    expect(channelKinds.has('ipc')).toBe(true);
    expect(channelKinds.has('alarm-input')).toBe(true);
    expect(channelKinds.has('nvr')).toBe(false);
    expect(channelKinds.has('platform')).toBe(false);
    expect(typeCodes[118]?.kind).toBe('nvr');
  });
});
