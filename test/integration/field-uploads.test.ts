import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GateSimulator } from '../../simulators/gate-access/gate-simulator.ts';
import type { EvidenceItem, Incident } from '../../src/core/incident.ts';
import { toWgs84 } from '../../src/field/geo.ts';
import {
  ffprobe,
  jpegWithGps,
  pngWithText,
  videoWithLocation,
  webpWithExif,
} from '../helpers/field-media.ts';
import {
  connectClient,
  demoConfig,
  demoGate,
  deploymentOf,
  metricValue,
  postJson,
  type RecordingClient,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

type Answer = Incident & { error?: { code: string; message: string } };

const deviceId = 'gate-xijiao-01-south';
const worker = 'demo-worker-xijiao-01';
const officerToken = 'demo-officer-xijiao';
const address = '西郊路12号南门';

/** The demo with an address on the device, small upload limits, and positions kept or not. */
function fieldDeployment(keepPositions: boolean, maxUploadsPerIncident = 12) {
  const config = demoConfig();
  const devices = config.devices.map((device) => (device.id === deviceId ? { ...device, address } : device));
  return deploymentOf({
    ...config,
    devices,
    field: { keepPositions, maxPhotoBytes: 65_536, maxVideoBytes: 1_048_576, maxUploadsPerIncident },
  });
}

/** A case on the device, accepted by its grid worker. */
async function acceptedCase(
  hub: TestHub,
  officer: RecordingClient,
  sims: GateSimulator[],
): Promise<Incident> {
  const sim = demoGate(hub.mqttUrl, deviceId);
  await sim.start();
  sims.push(sim);
  await sim.forceDoor();
  let incident: Incident | undefined;
  for (let n = 1; incident === undefined; n++) {
    const pushed = (await officer.nth('incident:new', n)) as Incident;
    if (pushed.device.id === deviceId) incident = pushed;
  }
  const accepted = await postJson<Answer>(
    `${hub.httpUrl}/api/incidents/${incident.id}/actions/accept`,
    worker,
  );
  expect(accepted.status).toBe(200);
  return accepted.body;
}

async function upload(
  hub: TestHub,
  incidentId: string,
  token: string,
  type: string,
  body: Buffer,
  query = 'stage=before',
): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${hub.httpUrl}/api/incidents/${incidentId}/uploads?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    body: new Uint8Array(body),
  });
  return { status: response.status, body: (await response.json()) as Answer };
}

async function served(hub: TestHub, item: EvidenceItem): Promise<{ headers: Headers; bytes: Buffer }> {
  const response = await fetch(`${hub.httpUrl}${item.url}`, {
    headers: { authorization: `Bearer ${officerToken}` },
  });
  expect(response.status).toBe(200);
  return { headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** A raw request: a declared length it never sends in full, or a chunked body that never says its length. */
function rawUpload(
  hub: TestHub,
  incidentId: string,
  headers: Record<string, string | number>,
  chunks: readonly Buffer[],
): Promise<{ status: number; body: string; connection: string | undefined }> {
  const url = new URL(`${hub.httpUrl}/api/incidents/${incidentId}/uploads?stage=after`);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: 'POST', headers },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: text, connection: response.headers.connection }),
        );
      },
    );
    // The hub may close the connection before the body is all sent: that is the point.
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    for (const chunk of chunks) outgoing.write(chunk);
    if (headers['content-length'] === undefined) outgoing.end();
  });
}

async function getIncidents(hub: TestHub): Promise<Incident[]> {
  const response = await fetch(`${hub.httpUrl}/api/incidents?limit=50`, {
    headers: { authorization: `Bearer ${officerToken}` },
  });
  return ((await response.json()) as { incidents: Incident[] }).incidents;
}

const refusals = (hub: TestHub, reason: string) =>
  metricValue(hub.httpUrl, `gridhub_field_upload_refusals_total{reason="${reason}"}`);

describe('field work through the HTTP API, positions kept', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  const sims: GateSimulator[] = [];
  let incident: Incident;

  beforeAll(async () => {
    hub = await startTestHub({ deployment: fieldDeployment(true) });
    officer = await connectClient(hub.httpUrl, officerToken);
    incident = await acceptedCase(hub, officer, sims);
  }, 30_000);

  afterAll(async () => {
    officer?.close();
    for (const sim of sims) await sim.stop();
    await hub?.stop();
  });

  it("carries the device's address and location onto the case", () => {
    expect(incident.device).toMatchObject({ id: deviceId, address, location: [116.304342, 39.930992] });
  });

  it('到达 far from the device is flagged, with its distance and the position', async () => {
    const [lon, lat] = toWgs84([116.304342, 39.930992], 'WGS84');
    const position = { lon: lon + 0.01, lat, accuracyM: 25 };
    const arrived = await postJson<Answer>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/arrive`,
      worker,
      {
        position,
      },
    );
    expect(arrived.status).toBe(200);
    expect(arrived.body.arrival).toMatchObject({ far: true, accuracyM: 25, position });
    expect(arrived.body.arrival?.distanceM).toBeGreaterThan(800);
    expect(arrived.body.arrival?.distanceM).toBeLessThan(900);
    // A position out of bounds is refused by the schema.
    const wrong = await postJson<Answer>(`${hub.httpUrl}/api/incidents/${incident.id}/actions/note`, worker, {
      note: 'x',
      position: { lon: 200, lat: 0 },
    });
    expect(wrong.status).toBe(400);
  });

  it('takes a JPEG, keeps its GPS position in the item and serves it without EXIF, XMP or comments', async () => {
    const answer = await upload(hub, incident.id, worker, 'image/jpeg', jpegWithGps(39.931, 116.3043));
    expect(answer.status).toBe(200);
    const item = answer.body.evidence?.at(-1) as EvidenceItem;
    expect(item).toMatchObject({
      kind: 'photo',
      stage: 'before',
      uploadedBy: 'worker-xijiao-01',
      contentType: 'image/jpeg',
      position: { lat: expect.closeTo(39.931, 3), lon: expect.closeTo(116.3043, 3) },
    });
    const { headers, bytes } = await served(hub, item);
    expect(headers.get('content-type')).toBe('image/jpeg');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(bytes.length).toBe(item.bytes);
    for (const trace of ['Exif', 'xap/1.0', 'SN-12345'])
      expect(bytes.toString('latin1')).not.toContain(trace);
    // The officer console hears of it as an incident:update.
    await expect
      .poll(() =>
        officer.received.some(
          (entry) => entry.event === 'incident:update' && JSON.stringify(entry.payload).includes(item.url),
        ),
      )
      .toBe(true);
  });

  it('takes a PNG and a WebP, served without their text and EXIF chunks; the phone’s position when the file has none', async () => {
    const png = await upload(
      hub,
      incident.id,
      worker,
      'image/png',
      pngWithText(),
      'stage=after&lon=116.3&lat=39.93&accuracyM=12',
    );
    expect(png.status).toBe(200);
    const pngItem = png.body.evidence?.at(-1) as EvidenceItem;
    expect(pngItem).toMatchObject({
      kind: 'photo',
      stage: 'after',
      position: { lon: 116.3, lat: 39.93, accuracyM: 12 },
    });
    const pngBytes = (await served(hub, pngItem)).bytes.toString('latin1');
    for (const trace of ['tEXt', 'eXIf', 'tIME']) expect(pngBytes).not.toContain(trace);
    const webp = await upload(hub, incident.id, worker, 'image/webp', webpWithExif());
    expect(webp.status).toBe(200);
    const webpBytes = (await served(hub, webp.body.evidence?.at(-1) as EvidenceItem)).bytes.toString(
      'latin1',
    );
    expect(webpBytes).not.toContain('EXIF');
    expect(webpBytes).not.toContain('XMP ');
  });

  it.each([
    ['video/mp4', 'mp4'],
    ['video/webm', 'webm'],
    ['video/quicktime', 'mov'],
  ] as const)(
    'takes a %s video and serves it without its location and comment tags',
    async (type, format) => {
      const original = videoWithLocation(format);
      expect(ffprobe(original, format)).toContain('SN-12345');
      const answer = await upload(hub, incident.id, worker, type, original);
      expect(answer.status).toBe(200);
      const item = answer.body.evidence?.at(-1) as EvidenceItem;
      expect(item).toMatchObject({ kind: 'video', contentType: type });
      const { headers, bytes } = await served(hub, item);
      expect(headers.get('content-type')).toBe(type);
      const probed = ffprobe(bytes, format);
      expect(probed).not.toContain('SN-12345');
      expect(probed).not.toContain('+31.2304');
      expect(JSON.parse(probed).streams[0].codec_type).toBe('video');
    },
    30_000,
  );

  it('refuses bytes that are not the type they claim, and counts it', async () => {
    const before = await refusals(hub, 'type_mismatch');
    const answer = await upload(hub, incident.id, worker, 'image/png', jpegWithGps(39.9, 116.3));
    expect(answer.status).toBe(415);
    expect(answer.body.error?.code).toBe('unsupported_media_type');
    const html = await upload(
      hub,
      incident.id,
      worker,
      'image/jpeg',
      Buffer.from('<html><script>alert(1)</script></html>'),
    );
    expect(html.status).toBe(415);
    expect(await refusals(hub, 'type_mismatch')).toBe(before + 2);
    const other = await upload(hub, incident.id, worker, 'text/html', Buffer.from('<html></html>'));
    expect(other.status).toBe(415);
    expect(await refusals(hub, 'unsupported_type')).toBeGreaterThanOrEqual(1);
  });

  it('refuses an oversized photo by its content-length, before reading it, and by its stream', async () => {
    const declared = await rawUpload(
      hub,
      incident.id,
      { authorization: `Bearer ${worker}`, 'content-type': 'image/jpeg', 'content-length': 10_000_000 },
      [jpegWithGps(39.9, 116.3).subarray(0, 100)],
    );
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.code).toBe('payload_too_large');
    const jpeg = jpegWithGps(39.9, 116.3);
    const streamed = await rawUpload(
      hub,
      incident.id,
      { authorization: `Bearer ${worker}`, 'content-type': 'image/jpeg', 'transfer-encoding': 'chunked' },
      [jpeg, Buffer.alloc(70_000)],
    );
    expect(streamed.status).toBe(413);
    expect(await refusals(hub, 'too_large')).toBe(2);
    // No token: refused before the body is read, the connection closed with the answer.
    const anonymous = await rawUpload(
      hub,
      incident.id,
      { 'content-type': 'video/mp4', 'content-length': 40_000_000 },
      [Buffer.alloc(1000)],
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.connection).toBe('close');
    expect(declared.connection).toBe('close');
  });

  it("answers a stranger's upload as not found, and the grid chief, who sees it but is not on it, as forbidden", async () => {
    const stranger = await upload(
      hub,
      incident.id,
      'demo-worker-luming-01',
      'image/jpeg',
      jpegWithGps(39.9, 116.3),
    );
    expect(stranger.status).toBe(404);
    const bystander = await upload(
      hub,
      incident.id,
      'demo-chief-xijiao',
      'image/jpeg',
      jpegWithGps(39.9, 116.3),
    );
    expect(bystander.status).toBe(403);
    const byOfficer = await upload(
      hub,
      incident.id,
      officerToken,
      'image/jpeg',
      jpegWithGps(39.9, 116.3),
      'stage=after',
    );
    expect(byOfficer.status).toBe(200);
    expect(byOfficer.body.evidence?.at(-1)).toMatchObject({ uploadedBy: 'officer-xijiao', stage: 'after' });
  });

  it('takes photos on a resolved case awaiting verification, and refuses them once it is closed', async () => {
    const resolved = await postJson<Answer>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/resolve`,
      worker,
      {
        note: 'repaired',
      },
    );
    expect(resolved.body.state).toBe('resolved');
    expect(
      (await upload(hub, incident.id, worker, 'image/jpeg', jpegWithGps(39.9, 116.3), 'stage=after')).status,
    ).toBe(200);
    await postJson(`${hub.httpUrl}/api/incidents/${incident.id}/actions/verify`, officerToken);
    const closed = await upload(
      hub,
      incident.id,
      worker,
      'image/jpeg',
      jpegWithGps(39.9, 116.3),
      'stage=after',
    );
    expect(closed.status).toBe(409);
    expect(closed.body.error?.code).toBe('illegal_transition');
  });
});

describe('field work through the HTTP API, positions not kept', () => {
  let hub: TestHub;
  let officer: RecordingClient;
  const sims: GateSimulator[] = [];

  beforeAll(async () => {
    hub = await startTestHub({ deployment: fieldDeployment(false, 4) });
    officer = await connectClient(hub.httpUrl, officerToken);
  }, 30_000);

  afterAll(async () => {
    officer?.close();
    for (const sim of sims) await sim.stop();
    await hub?.stop();
  });

  it('keeps the distance of an arrival and no position, of the arrival or of any upload', async () => {
    const incident = await acceptedCase(hub, officer, sims);
    const arrived = await postJson<Answer>(
      `${hub.httpUrl}/api/incidents/${incident.id}/actions/arrive`,
      worker,
      {
        position: { lon: 116.304342, lat: 39.930992, accuracyM: 8 },
      },
    );
    expect(arrived.body.arrival).toEqual({ distanceM: 0, accuracyM: 8, far: false });
    const answer = await upload(
      hub,
      incident.id,
      worker,
      'image/jpeg',
      jpegWithGps(39.9876, 116.2468),
      'stage=before&lon=116.3&lat=39.93',
    );
    expect(answer.status).toBe(200);
    expect(answer.body.evidence?.at(-1)).not.toHaveProperty('position');
    expect(
      JSON.stringify(
        await (
          await fetch(`${hub.httpUrl}/api/incidents/${incident.id}`, {
            headers: { authorization: `Bearer ${worker}` },
          })
        ).json(),
      ),
    ).not.toContain('116.2468');
  });
  it('keeps three videos arriving together, and refuses uploads past the bound of the case', async () => {
    const incident = (await getIncidents(hub)).find((entry) => entry.device.id === deviceId) as Incident;
    const video = videoWithLocation('mp4');
    const answers = await Promise.all(
      [1, 2, 3].map(() => upload(hub, incident.id, worker, 'video/mp4', video)),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    const after = await upload(hub, incident.id, worker, 'image/jpeg', jpegWithGps(39.9, 116.3));
    expect(after.status).toBe(409);
    expect(after.body.error?.code).toBe('too_many_uploads');
    expect(await refusals(hub, 'too_many')).toBe(1);
  }, 30_000);
});
