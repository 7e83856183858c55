import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import { ffmpegPath } from '../../src/cameras/evidence/ffmpeg.ts';
import type { EvidenceItem, Incident, IncidentChange } from '../../src/core/incident.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  type RecordingClient,
  startTestHub,
  type TestHub,
  temporaryDirectory,
} from '../helpers/hub.ts';

const run = promisify(execFile);
const cameraId = 'cam-xijiao-01-north';

describe('video evidence end to end: a camera alarm and a linked gate alarm get a snapshot and a clip', () => {
  const work = temporaryDirectory();
  let camera: OnvifCameraSimulator;
  let hub: TestHub;
  let officer: RecordingClient;

  beforeAll(async () => {
    camera = new OnvifCameraSimulator({
      username: 'admin',
      password: 'evidence-camera-1',
      name: 'Xijiao 1 north',
      manufacturer: 'Gridhub Sim',
      model: 'SIM-PTZ',
      serialNumber: 'SIM-EVIDENCE-1',
      presets: [{ token: '1', name: 'north gate' }],
      rtsp: true,
      discoveryPort: false,
    });
    await camera.start();
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.devices.push({
      id: cameraId,
      name: 'Xijiao Grid 1 north camera',
      adapter: 'onvif-camera',
      grid: 'grid-xijiao-01',
      onvif: { xaddr: camera.xaddr, username: 'admin', password: 'evidence-camera-1' },
      watches: ['gate-xijiao-01-north'],
      presets: { 'gate-xijiao-01-north': '1' },
    });
    config.media = { clipSeconds: 2, rtspTransport: 'udp' };
    config.correlations = [];
    hub = await startTestHub({ deployment: deploymentOf(config), onvifTiming: { aliveEveryMs: 500 } });
    officer = await connectClient(hub.httpUrl, 'demo-officer-xijiao');
    while (hub.testHandle.cameras.media(cameraId) === undefined)
      await new Promise((resolve) => setTimeout(resolve, 50));
  });

  afterAll(async () => {
    officer?.close();
    await hub?.stop();
    await camera?.stop();
    work.remove();
  });

  /** The incident's evidence once it holds an item of this kind, from the updates pushed to the officer. */
  async function evidenceOf(incidentId: string, kind: EvidenceItem['kind']): Promise<EvidenceItem> {
    for (let n = 1; ; n++) {
      const change = (await officer.nth('incident:update', n)) as IncidentChange;
      const item =
        change.after.id === incidentId
          ? change.after.evidence?.find((candidate) => candidate.kind === kind)
          : undefined;
      if (item !== undefined) return item;
    }
  }

  async function download(
    url: string,
    token: string,
  ): Promise<{ status: number; bytes: Buffer; type: string | null }> {
    const response = await fetch(`${hub.httpUrl}${url}`, { headers: { authorization: `Bearer ${token}` } });
    return {
      status: response.status,
      bytes: Buffer.from(await response.arrayBuffer()),
      type: response.headers.get('content-type'),
    };
  }

  it('attaches a valid JPEG snapshot, then a clip ffmpeg decodes for the configured length', async () => {
    await camera.intrusion(true);
    let incident: Incident | undefined;
    for (let n = 1; incident === undefined; n++) {
      const candidate = (await officer.nth('incident:new', n)) as Incident;
      if (candidate.device.id === cameraId && candidate.event.type === 'camera.intrusion')
        incident = candidate;
    }
    // Pushed before any evidence exists: no link to a file that is not there yet.
    expect(incident.evidence ?? []).toEqual([]);

    const snapshot = await evidenceOf(incident.id, 'snapshot');
    expect(snapshot).toMatchObject({
      cameraId,
      contentType: 'image/jpeg',
      url: `/media/${incident.id}/snapshot-${cameraId}.jpg`,
    });
    const jpeg = await download(snapshot.url, 'demo-officer-xijiao');
    expect(jpeg.status).toBe(200);
    expect(jpeg.type).toBe('image/jpeg');
    expect(jpeg.bytes.length).toBe(snapshot.bytes);
    expect(jpeg.bytes.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect(jpeg.bytes.subarray(-2).toString('hex')).toBe('ffd9');

    const clip = await evidenceOf(incident.id, 'clip');
    expect(clip).toMatchObject({ cameraId, contentType: 'video/mp4' });
    // The clip's measured length, around the configured 2 s.
    expect(clip.durationSeconds).toBeGreaterThan(1.2);
    expect(clip.durationSeconds).toBeLessThan(3.5);
    const video = await download(clip.url, 'demo-worker-xijiao-01');
    expect(video.status).toBe(200);
    const file = path.join(work.path, 'clip.mp4');
    writeFileSync(file, video.bytes);
    const ffprobe = (await ffmpegPath()).replace(/ffmpeg$/, 'ffprobe');
    const { stdout } = await run(ffprobe, [
      '-v',
      'error',
      '-show_entries',
      'format=duration',
      '-of',
      'csv=p=0',
      file,
    ]);
    expect(Number(stdout.trim())).toBeGreaterThan(1.2);
    expect(Number(stdout.trim())).toBeLessThan(3.5);

    expect((await download(snapshot.url, 'demo-worker-xijiao-02')).status).toBe(404);
    expect((await download(snapshot.url, 'demo-officer-tianmushan')).status).toBe(404);
    expect(
      (await download(`/media/${incident.id}/clip-somebody-else.mp4`, 'demo-officer-xijiao')).status,
    ).toBe(404);
    expect((await fetch(`${hub.httpUrl}${snapshot.url}`)).status).toBe(401);
  });

  it("turns the PTZ camera to the gate's preset when the gate it watches alarms, and attaches its snapshot", async () => {
    const gate = demoGate(hub.mqttUrl, 'gate-xijiao-01-north');
    await gate.start();
    await gate.forceDoor();
    let incident: Incident | undefined;
    for (let n = 1; incident === undefined; n++) {
      const candidate = (await officer.nth('incident:new', n)) as Incident;
      if (candidate.device.id === 'gate-xijiao-01-north') incident = candidate;
    }
    const snapshot = await evidenceOf(incident.id, 'snapshot');
    expect(snapshot.cameraId).toBe(cameraId);
    expect(camera.lastPreset).toBe('1');
    await gate.stop();
  });
});
