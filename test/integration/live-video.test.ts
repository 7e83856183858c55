import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';
import type { Incident } from '../../src/core/incident.ts';
import { simulatedCameraDevice, startSimulatedCamera } from '../helpers/cameras.ts';
import {
  demoConfig,
  deploymentOf,
  eventually,
  getJson,
  metricValue,
  postJson,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

/**
 * Live video (src/cameras/live/live-views.ts): a ticket for a camera in the caller's scope, then its stream as
 * fragmented MP4, read here by ffprobe (FFmpeg's prober, an implementation this project did not write) as a browser's
 * <video> would: H.264 video with its size. Tickets are single-use; the stream's ffmpeg ends with its viewer; PTZ
 * presets turn the simulated camera.
 */
const cameraId = 'cam-xijiao-01-live';

describe('live video of a camera', () => {
  let camera: OnvifCameraSimulator;
  let hub: TestHub;

  beforeAll(async () => {
    camera = await startSimulatedCamera(
      'live-camera-1',
      { name: 'Xijiao 1 live', serialNumber: 'SIM-LIVE-1' },
      { presets: [{ token: '1', name: 'north gate' }] },
    );
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.devices.push(
      simulatedCameraDevice(camera, {
        id: cameraId,
        name: 'Xijiao Grid 1 live camera',
        grid: 'grid-xijiao-01',
        watches: ['gate-xijiao-01-north'],
        presets: { 'gate-xijiao-01-north': '1' },
      }),
    );
    hub = await startTestHub({ deployment: deploymentOf(config), onvifTiming: { aliveEveryMs: 500 } });
    while (hub.testHandle.cameras.media(cameraId)?.streamUri === undefined)
      await new Promise((resolve) => setTimeout(resolve, 50));
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await camera?.stop();
  });

  /** A ticket's URL for the officer, checked. */
  async function ticket(token = 'demo-officer-xijiao'): Promise<string> {
    const answer = await postJson<{ url: string; expiresAt: string }>(
      `${hub.httpUrl}/api/cameras/${cameraId}/live`,
      token,
    );
    expect(answer.status).toBe(200);
    expect(answer.body.url).toMatch(/^\/api\/live\/[\w-]{32}$/);
    expect(Date.parse(answer.body.expiresAt) - Date.now()).toBeLessThanOrEqual(30_000);
    return answer.body.url;
  }

  it('streams fragmented MP4 that ffprobe reads as H.264 video, once per ticket', async () => {
    const url = await ticket();
    const probe = spawn(
      'ffprobe',
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'stream=codec_name,width,height:format=format_name',
        '-of',
        'json',
        `${hub.httpUrl}${url}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    probe.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => probe.once('close', resolve));
    expect(code).toBe(0);
    const read = JSON.parse(output) as {
      streams: { codec_name: string; width: number; height: number }[];
      format: { format_name: string };
    };
    expect(read.format.format_name).toContain('mp4');
    expect(read.streams[0]?.codec_name).toBe('h264');
    expect(read.streams[0]?.width).toBeGreaterThan(0);
    // The viewer went: its ffmpeg ends, and the view is no longer counted.
    await eventually(async () => (await metricValue(hub.httpUrl, 'gridhub_live_views')) === 0, 10_000);
    expect(await metricValue(hub.httpUrl, 'gridhub_live_views_started_total')).toBeGreaterThanOrEqual(1);

    // The same ticket again: refused, counted.
    const again = await fetch(`${hub.httpUrl}${url}`);
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const forged = await fetch(`${hub.httpUrl}/api/live/${'x'.repeat(32)}`);
    expect(forged.status).toBe(404);
    expect(await metricValue(hub.httpUrl, 'gridhub_live_view_refusals_total{reason="ticket"}')).toBe(2);
    // Not a ticket's shape at all: refused at the edge.
    expect((await fetch(`${hub.httpUrl}/api/live/..%2F..%2Fetc`)).status).toBe(400);
  }, 60_000);

  it('gives tickets only to officers and admins of the camera’s part of the jurisdiction', async () => {
    // A worker may not watch cameras; an officer elsewhere does not see this one.
    expect(
      (await postJson(`${hub.httpUrl}/api/cameras/${cameraId}/live`, 'demo-worker-xijiao-01')).status,
    ).toBe(403);
    expect(
      (await postJson(`${hub.httpUrl}/api/cameras/${cameraId}/live`, 'demo-officer-luming')).status,
    ).toBe(404);
    // A device that is not a camera has no live view.
    expect(
      (await postJson(`${hub.httpUrl}/api/cameras/gate-xijiao-01-north/live`, 'demo-officer-xijiao')).status,
    ).toBe(404);
    // The camera list names what the page offers: the gate it watches, with its preset.
    const { body } = await getJson(`${hub.httpUrl}/api/cameras`, 'demo-officer-xijiao');
    const listed = (
      body as { cameras: { id: string; watches: { deviceId: string; preset?: string }[] }[] }
    ).cameras.find((entry) => entry.id === cameraId);
    expect(listed?.watches).toEqual([{ deviceId: 'gate-xijiao-01-north', preset: '1' }]);
  });

  it('turns the camera to a preset, and says so when the camera refuses one', async () => {
    const turned = await postJson(`${hub.httpUrl}/api/cameras/${cameraId}/presets/1`, 'demo-officer-xijiao');
    expect(turned.status).toBe(200);
    const refused = await postJson<{ error: { code: string } }>(
      `${hub.httpUrl}/api/cameras/${cameraId}/presets/99`,
      'demo-officer-xijiao',
    );
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('device_offline');
    expect(
      (await postJson(`${hub.httpUrl}/api/cameras/${cameraId}/presets/1`, 'demo-worker-xijiao-01')).status,
    ).toBe(403);
  });
});

describe('clips that begin before the alarm (media.preAlarmSeconds)', () => {
  const bufferedCamera = 'cam-xijiao-02-buffered';
  let camera: OnvifCameraSimulator;
  let hub: TestHub;
  const work = mkdtempSync(path.join(tmpdir(), 'gridhub-prealarm-'));

  beforeAll(async () => {
    camera = await startSimulatedCamera('buffered-camera-2', {
      name: 'Xijiao 2 buffered',
      serialNumber: 'SIM-BUFFER-2',
    });
    const config = demoConfig() as unknown as Record<string, unknown> & {
      devices: Record<string, unknown>[];
    };
    config.devices.push(
      simulatedCameraDevice(camera, {
        id: bufferedCamera,
        name: 'Xijiao Grid 2 buffered camera',
        grid: 'grid-xijiao-02',
      }),
    );
    config.media = { clipSeconds: 2, preAlarmSeconds: 4, rtspTransport: 'tcp' };
    config.correlations = [];
    hub = await startTestHub({ deployment: deploymentOf(config), onvifTiming: { aliveEveryMs: 500 } });
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await camera?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('attaches a clip holding the seconds before the alarm, taken from the rolling buffer', async () => {
    // The ring fills while nothing happens: the buffer's ffmpeg has run longer than the seconds a clip reaches back.
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/healthz`);
      const buffers = (body as { components: Record<string, { cameras?: number }> }).components[
        'pre-alarm buffers'
      ];
      return (buffers?.cameras ?? 0) >= 1;
    }, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    await camera.intrusion(true);
    let clip: { url: string; durationSeconds?: number; preAlarmSeconds?: number } | undefined;
    await eventually(async () => {
      const { body } = await getJson(`${hub.httpUrl}/api/incidents?limit=20`, 'demo-officer-xijiao');
      const incident = (body as { incidents: Incident[] }).incidents.find(
        (candidate) => candidate.device.id === bufferedCamera,
      );
      clip = incident?.evidence?.find((item) => item.kind === 'clip');
      return clip !== undefined;
    }, 30_000);
    const taken = clip as { url: string; durationSeconds: number; preAlarmSeconds: number };
    // Up to the 4 s asked for before the alarm (the buffer's segments start at key frames), and the 2 s after.
    expect(taken.preAlarmSeconds).toBeGreaterThanOrEqual(3);
    expect(taken.durationSeconds).toBeGreaterThanOrEqual(5);
    // ffprobe reads the file the hub serves as one MP4 of that length.
    // Served as soon as listed: the media route reads the incident where the list does (media.test.ts).
    const response = await fetch(`${hub.httpUrl}${taken.url}`, {
      headers: { authorization: 'Bearer demo-officer-xijiao' },
    });
    expect(response.status).toBe(200);
    const file = path.join(work, 'clip.mp4');
    writeFileSync(file, Buffer.from(await response.arrayBuffer()));
    const probed = spawnSync('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration,format_name',
      '-of',
      'json',
      file,
    ]);
    expect(probed.status).toBe(0);
    const format = (
      JSON.parse(probed.stdout.toString()) as { format: { duration: string; format_name: string } }
    ).format;
    expect(format.format_name).toContain('mp4');
    expect(Number(format.duration)).toBeGreaterThanOrEqual(5);
  }, 90_000);
});
