import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DahuaSimulator } from '../../simulators/dahua/dahua-simulator.ts';
import { wireFixtures } from '../devices/dahua-cgi.wire-fixtures.ts';

/**
 * The Dahua simulator read by a client this project did not write: curl (Debian's), with its own HTTP Digest, as
 * Dahua's own integrators and Home Assistant's Dahua integration document reading the event stream
 * (`curl --digest -u admin:… "http://…/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=5"`).
 */

interface Fetched {
  readonly code: number | null;
  readonly stdout: Buffer;
}

/** Runs curl to the end or until `seconds`, and keeps whatever it read. */
function curl(
  args: readonly string[],
  seconds: number,
  whileRunning?: () => Promise<void>,
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['--silent', '--globoff', '--max-time', String(seconds), ...args]);
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(chunks) }));
    void whileRunning?.();
  });
}

const password = 'sim-pass-9';

describe('the Dahua simulator, read by curl --digest', () => {
  let sim: DahuaSimulator;
  beforeAll(async () => {
    sim = new DahuaSimulator({ username: 'admin', password, serialNumber: 'SIM-DH-0009' });
    await sim.start();
  });
  afterAll(() => sim?.stop());

  const attach = `${'/cgi-bin/eventManager.cgi?action=attach&codes=[All]&heartbeat=1'}`;

  it('streams heartbeats and events as the Dahua HTTP API shows them', async () => {
    const read = await curl(
      ['--digest', '-u', `admin:${password}`, '--include', `${sim.url}${attach}`],
      3,
      async () => {
        await sim.waitForAttach();
        await sim.motion(true);
        await sim.blind(true);
        await sim.access({ granted: true, cardNo: '12345678', method: 1 });
      },
    );
    const text = read.stdout.toString('latin1');
    // The answer to the second leg of the Digest exchange, as the API shows it.
    expect(text).toContain('HTTP/1.1 200 OK\r\n');
    expect(text).toContain('Content-Type: multipart/x-mixed-replace; boundary=myboundary\r\n');
    for (const name of ['VideoMotion Start', 'VideoBlind Start', 'Heartbeat']) {
      const fixture = wireFixtures.find((candidate) => candidate.name.startsWith(name));
      expect(text, name).toContain(fixture?.part);
    }
    expect(text).toMatch(/Code=AccessControl;action=Pulse;index=0;data=\{\n {3}"CardNo" : "12345678",/);
  });

  it('serves a JPEG snapshot and its serial number behind Digest', async () => {
    const jpeg = await curl(
      ['--digest', '-u', `admin:${password}`, `${sim.url}/cgi-bin/snapshot.cgi?channel=1`],
      5,
    );
    expect(jpeg.stdout.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(jpeg.stdout.subarray(-2).toString('hex')).toBe('ffd9');
    const info = await curl(
      ['--digest', '-u', `admin:${password}`, `${sim.url}/cgi-bin/magicBox.cgi?action=getSystemInfo`],
      5,
    );
    expect(info.stdout.toString()).toContain('serialNumber=SIM-DH-0009\r\n');
  });

  it('opens a door, and refuses a wrong password and Basic credentials', async () => {
    const opened = await curl(
      [
        '--digest',
        '-u',
        `admin:${password}`,
        `${sim.url}/cgi-bin/accessControl.cgi?action=openDoor&channel=1`,
      ],
      5,
    );
    expect(opened.stdout.toString()).toBe('OK\r\n');
    expect(sim.doorsOpened).toContain(1);
    const wrong = await curl(
      ['--digest', '-u', 'admin:nope', '-o', '/dev/null', '-w', '%{http_code}', `${sim.url}${attach}`],
      5,
    );
    expect(wrong.stdout.toString()).toBe('401');
    const basic = await curl(
      ['--basic', '-u', `admin:${password}`, '-o', '/dev/null', '-w', '%{http_code}', `${sim.url}${attach}`],
      5,
    );
    expect(basic.stdout.toString()).toBe('401');
  });
});
