import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Notification, NotificationChannel, Recipient } from '../../src/notify/channel.ts';
import { type ChannelConfig, channelSchema } from '../../src/notify/channels/channel-schema.ts';
import { createChannels } from '../../src/notify/channels/index.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import {
  FakeAliyunSms,
  FakeDingtalk,
  type FakeProvider,
  FakePushService,
  FakeSmsGateway,
  FakeTencentSms,
  FakeVoiceIntegration,
  FakeWecom,
  FakeWecomRobot,
} from '../helpers/fake-providers.ts';
import { FakeStore } from '../helpers/fake-store.ts';
import {
  demoConfig,
  deploymentOf,
  LogCapture,
  metricValue,
  startTestHub,
  type TestHub,
} from '../helpers/hub.ts';

const notification: Notification = {
  id: 'ntf-0001',
  title: '【紧急】西郊第4网格 · 门被强行打开',
  body: '西郊路12号北门 · 22:41 · 请在10分钟内接单',
  url: 'https://grid.example.gov.cn/worker.html#incident=inc-42',
  severity: 'critical',
  incidentIds: ['inc-42'],
};

const recipient: Recipient = {
  userId: 'worker-xijiao-04',
  name: '吴敏',
  contact: { phone: '13800138000', wecomUserId: 'WuMin', dingtalkUserId: 'ding-wumin' },
};
const nobody: Recipient = { userId: 'worker-nobody', name: '无', contact: {} };

const secrets = {
  wecom: 'wecom-app-secret-0123456789',
  robot: 'robot-key-5f1c2d3e',
  dingtalkToken: 'ding-access-token-abcdef',
  dingtalkSecret: 'SECdingtalk-sign-secret-98765',
  aliyun: 'aliyun-access-secret-zyxw',
  tencent: 'tencent-secret-key-qwerty',
  gateway: 'Bearer gateway-secret-token-55',
  voice: 'voice-shared-secret-0123456789',
};

interface Harness {
  readonly channel: NotificationChannel;
  readonly metrics: MetricsRegistry;
  readonly logs: LogCapture;
}

function build(config: Record<string, unknown>): Harness {
  const metrics = new MetricsRegistry();
  const logs = new LogCapture();
  const [channel] = createChannels([channelSchema.parse(config) as ChannelConfig], {
    store: new FakeStore(),
    logger: pino({ level: 'debug' }, logs),
    metrics,
  });
  return { channel: channel as NotificationChannel, metrics, logs };
}

async function counted(metrics: MetricsRegistry, channel: string, outcome: string): Promise<number> {
  const sample = `gridhub_notification_channel_requests_total{channel="${channel}",outcome="${outcome}"}`;
  const line = (await metrics.text()).split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? Number.NaN : Number(line.slice(sample.length + 1));
}

/** No configured secret in the logs or the status: the provider may echo it, the hub must not. */
function expectNoSecrets(harness: Harness): void {
  const seen = `${harness.logs.text}\n${JSON.stringify(harness.channel.status())}`;
  for (const secret of Object.values(secrets)) expect(seen).not.toContain(secret);
  for (const identifier of ['13800138000', 'WuMin', 'ding-wumin'])
    expect(harness.logs.text).not.toContain(identifier);
}

const providers: FakeProvider[] = [];
async function started<T extends FakeProvider>(provider: T): Promise<T> {
  providers.push(provider);
  return provider.start();
}
afterAll(async () => {
  await Promise.all(providers.map((provider) => provider.stop()));
});
afterEach(() => {
  for (const provider of providers) expect(provider.malformed).toEqual([]);
});

/** The common cases every provider channel must pass: 5xx and timeout are retryable failures, never throws. */
async function expectOutagesRetryable(harness: Harness, provider: FakeProvider): Promise<void> {
  const before = await counted(harness.metrics, harness.channel.id, 'retryable');
  provider.failNext(503);
  const busy = await harness.channel.send(recipient, notification);
  expect(busy).toMatchObject({ outcome: 'failed', retryable: true });
  expect(harness.channel.status().health).toBe('failing');
  provider.stallNext();
  const stalled = await harness.channel.send(recipient, notification);
  expect(stalled).toMatchObject({ outcome: 'failed', retryable: true });
  expect(stalled.outcome === 'failed' && stalled.reason).toContain('no answer within 600 ms');
  expect(await counted(harness.metrics, harness.channel.id, 'retryable')).toBe(before + 2);
  // A later success clears the status.
  expect(await harness.channel.send(recipient, notification)).toMatchObject({ outcome: 'sent' });
  expect(harness.channel.status().health).toBe('ok');
}

describe('wecom_app', () => {
  it('sends a textcard with a cached token, refreshes it once when expired, and tells failures apart', async () => {
    const wecom = await started(new FakeWecom('ww-corp-1', secrets.wecom, 1000002));
    const config = {
      id: 'wecom',
      kind: 'wecom_app',
      baseUrl: wecom.url,
      corpId: 'ww-corp-1',
      agentId: 1000002,
      secret: secrets.wecom,
      timeoutMs: 600,
    };
    const harness = build(config);
    expect(await harness.channel.reaches(recipient)).toBe(true);
    expect(await harness.channel.reaches(nobody)).toBe(false);
    expect(await harness.channel.send(nobody, notification)).toMatchObject({ outcome: 'unreachable' });

    expect(await harness.channel.send(recipient, notification)).toEqual({
      outcome: 'sent',
      reference: 'msg-1',
    });
    expect(await harness.channel.send(recipient, notification)).toMatchObject({ outcome: 'sent' });
    expect(wecom.tokensIssued).toHaveLength(1);
    expect(wecom.messages[0]).toEqual({
      touser: 'WuMin',
      msgtype: 'textcard',
      agentid: 1000002,
      textcard: {
        title: notification.title,
        description: notification.body,
        url: notification.url,
        btntxt: '详情',
      },
    });

    // WeCom expired the token early: 42001, one new token, the message sent once more.
    wecom.expireTokens();
    expect(await harness.channel.send(recipient, notification)).toMatchObject({ outcome: 'sent' });
    expect(wecom.tokensIssued).toHaveLength(2);
    expect(wecom.messages).toHaveLength(3);
    // Refreshed once only: a fresh token refused as well is a retryable failure, not a loop.
    wecom.expireTokens();
    wecom.expireOnIssue = true;
    expect(await harness.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: true,
    });
    expect(wecom.tokensIssued).toHaveLength(3);
    wecom.expireOnIssue = false;

    await expectOutagesRetryable(harness, wecom);

    const wrong = build({ ...config, id: 'wecom-wrong', secret: 'not-the-secret-000' });
    const refused = await wrong.channel.send(recipient, notification);
    expect(refused).toMatchObject({ outcome: 'failed', retryable: false });
    expect(wrong.channel.status()).toMatchObject({ health: 'credentials_refused' });
    expect(wrong.channel.status().lastError).toContain('40001');
    expect(await counted(wrong.metrics, 'wecom-wrong', 'credentials_refused')).toBe(1);
    // A timeout after a refused credential leaves the credential status showing.
    wecom.failNext(502);
    await wrong.channel.send(recipient, notification);
    expect(wrong.channel.status().health).toBe('credentials_refused');
    expectNoSecrets(harness);
    expectNoSecrets(wrong);
  });
});

describe('wecom_robot', () => {
  it('posts text mentioning the phone; an unknown key is credentials_refused', async () => {
    const robot = await started(new FakeWecomRobot(secrets.robot));
    const config = {
      id: 'group',
      kind: 'wecom_robot',
      baseUrl: robot.url,
      key: secrets.robot,
      timeoutMs: 600,
    };
    const harness = build(config);
    expect(await harness.channel.reaches(nobody)).toBe(true);
    expect(await harness.channel.send(recipient, notification)).toEqual({ outcome: 'sent' });
    expect(robot.messages[0]).toEqual({
      msgtype: 'text',
      text: {
        content: `${notification.title}\n${notification.body}\n${notification.url}`,
        mentioned_mobile_list: ['13800138000'],
      },
    });
    const markdown = build({ ...config, id: 'group-md', format: 'markdown' });
    expect(await markdown.channel.send(recipient, notification)).toEqual({ outcome: 'sent' });
    expect(robot.messages[1]?.msgtype).toBe('markdown');
    await expectOutagesRetryable(harness, robot);

    const wrong = build({ ...config, id: 'group-wrong', key: `${secrets.robot}-old` });
    expect(await wrong.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(wrong.channel.status()).toMatchObject({ health: 'credentials_refused' });
    expect(wrong.channel.status().lastError).toContain('93000');
    expectNoSecrets(wrong);
  });
});

describe('dingtalk_robot', () => {
  it('signs with 加签, mentions the recipient, and a wrong secret is credentials_refused', async () => {
    const ding = await started(new FakeDingtalk(secrets.dingtalkToken, secrets.dingtalkSecret));
    const config = {
      id: 'ding',
      kind: 'dingtalk_robot',
      baseUrl: ding.url,
      accessToken: secrets.dingtalkToken,
      secret: secrets.dingtalkSecret,
      timeoutMs: 600,
    };
    const harness = build(config);
    expect(await harness.channel.send(recipient, notification)).toEqual({ outcome: 'sent' });
    const message = ding.messages[0] as {
      msgtype: string;
      markdown: { title: string; text: string };
      at: unknown;
    };
    expect(message.msgtype).toBe('markdown');
    expect(message.markdown.title).toBe(notification.title);
    expect(message.markdown.text).toContain(notification.url);
    expect(message.markdown.text).toContain('@ding-wumin');
    expect(message.at).toEqual({ atUserIds: ['ding-wumin'], atMobiles: [], isAtAll: false });

    const card = build({ ...config, id: 'ding-card', format: 'actionCard' });
    expect(
      await card.channel.send({ ...recipient, contact: { phone: '+8613900139000' } }, notification),
    ).toEqual({
      outcome: 'sent',
    });
    expect(ding.messages[1]).toMatchObject({
      msgtype: 'actionCard',
      actionCard: { singleURL: notification.url },
      at: { atMobiles: ['13900139000'], atUserIds: [] },
    });
    ding.rateLimitNext = true;
    const limited = await harness.channel.send(recipient, notification);
    expect(limited).toMatchObject({ outcome: 'failed', retryable: true });
    expect(limited.outcome === 'failed' && limited.reason).toContain('130101');
    await expectOutagesRetryable(harness, ding);

    const wrong = build({ ...config, id: 'ding-wrong', secret: 'SECsomething-else-entirely' });
    expect(await wrong.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(wrong.channel.status()).toMatchObject({ health: 'credentials_refused' });
    expect(wrong.channel.status().lastError).toContain('310000');
    expectNoSecrets(harness);
  });
});

describe('sms_http', () => {
  it('fills the body template, checks the answer field, and a 401 is credentials_refused', async () => {
    const gateway = await started(new FakeSmsGateway(secrets.gateway));
    const config = {
      id: 'sms',
      kind: 'sms_http',
      url: `${gateway.url}/send`,
      headers: { authorization: secrets.gateway },
      body: { to: '{phone}', content: '{text}', meta: { link: '{url}', ref: '{id}' } },
      success: { path: 'result.code', equals: 0 },
      timeoutMs: 600,
    };
    const harness = build(config);
    expect(await harness.channel.reaches(nobody)).toBe(false);
    expect(await harness.channel.send(nobody, notification)).toMatchObject({ outcome: 'unreachable' });
    expect(await harness.channel.send(recipient, notification)).toEqual({ outcome: 'sent' });
    expect(gateway.messages[0]).toEqual({
      to: '13800138000',
      content: `${notification.title} ${notification.body} ${notification.url}`,
      meta: { link: notification.url, ref: 'ntf-0001' },
    });
    await expectOutagesRetryable(harness, gateway);
    const picky = build({ ...config, id: 'sms-picky', success: { path: 'result.code', equals: 1 } });
    expect(await picky.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    const wrong = build({ ...config, id: 'sms-wrong', headers: { authorization: 'Bearer nope-nope' } });
    expect(await wrong.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(wrong.channel.status().health).toBe('credentials_refused');
    expectNoSecrets(harness);
  });
});

describe('sms_aliyun', () => {
  it('signs SendSms with the RPC signature, maps the template variables, and tells refusals apart', async () => {
    const aliyun = await started(new FakeAliyunSms('LTAI-test-key-id', secrets.aliyun));
    const config = {
      id: 'aliyun',
      kind: 'sms_aliyun',
      baseUrl: aliyun.url,
      accessKeyId: 'LTAI-test-key-id',
      accessKeySecret: secrets.aliyun,
      signName: '网格通',
      templateCode: 'SMS_123456789',
      templateVariables: { map: { title: 'title', link: 'url', n: 'count' }, maxLength: 35 },
      timeoutMs: 600,
    };
    const harness = build(config);
    expect(
      await harness.channel.send({ ...recipient, contact: { phone: '+8613800138000' } }, notification),
    ).toEqual({
      outcome: 'sent',
      reference: 'biz-1',
    });
    const sentSms = aliyun.messages[0] as Record<string, string>;
    expect(sentSms.PhoneNumbers).toBe('13800138000');
    expect(sentSms.SignName).toBe('网格通');
    expect(JSON.parse(sentSms.TemplateParam ?? '')).toEqual({
      title: notification.title,
      link: [...notification.url].slice(0, 35).join(''),
      n: '1',
    });
    // The provider names the number in its refusal: the reason (and so the log and audit) does not.
    const illegal = await harness.channel.send(
      { ...recipient, contact: { phone: '17000000001' } },
      notification,
    );
    expect(illegal).toMatchObject({ outcome: 'failed', retryable: false });
    expect(illegal.outcome === 'failed' && illegal.reason).toContain('isv.MOBILE_NUMBER_ILLEGAL');
    expect(JSON.stringify(illegal)).not.toContain('17000000001');
    expect(harness.logs.text).not.toContain('17000000001');
    aliyun.limitNext = true;
    expect(await harness.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: true,
    });
    await expectOutagesRetryable(harness, aliyun);

    const badSecret = build({ ...config, id: 'aliyun-secret', accessKeySecret: 'wrong-secret-123' });
    expect(await badSecret.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(badSecret.channel.status()).toMatchObject({ health: 'credentials_refused' });
    expect(badSecret.channel.status().lastError).toContain('SignatureDoesNotMatch');
    const badId = build({ ...config, id: 'aliyun-id', accessKeyId: 'LTAI-unknown' });
    await badId.channel.send(recipient, notification);
    expect(badId.channel.status().lastError).toContain('InvalidAccessKeyId.NotFound');
    expect(badId.channel.status().health).toBe('credentials_refused');
    expectNoSecrets(harness);
  });
});

describe('sms_tencent', () => {
  it('signs SendSms with TC3-HMAC-SHA256; an AuthFailure is credentials_refused', async () => {
    const tencent = await started(new FakeTencentSms('AKID-test', secrets.tencent));
    const config = {
      id: 'tencent',
      kind: 'sms_tencent',
      baseUrl: tencent.url,
      secretId: 'AKID-test',
      secretKey: secrets.tencent,
      smsSdkAppId: '1400000001',
      signName: '网格通',
      templateId: '1234567',
      templateParams: ['incidentId', 'severity'],
      timeoutMs: 600,
    };
    const harness = build(config);
    const result = await harness.channel.send(recipient, notification);
    expect(result).toEqual({ outcome: 'sent', reference: 'serial-1-0' });
    expect(tencent.messages[0]).toMatchObject({
      PhoneNumberSet: ['+8613800138000'],
      SmsSdkAppId: '1400000001',
      TemplateId: '1234567',
      TemplateParamSet: ['inc-42', 'critical'],
    });
    await expectOutagesRetryable(harness, tencent);
    const wrong = build({ ...config, id: 'tencent-wrong', secretKey: 'another-secret-key' });
    expect(await wrong.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(wrong.channel.status()).toMatchObject({ health: 'credentials_refused' });
    expect(wrong.channel.status().lastError).toContain('AuthFailure.SignatureFailure');
    expectNoSecrets(harness);
  });
});

describe('voice_webhook', () => {
  it('signs the call request as the outbound webhooks are; a refused signature is credentials_refused', async () => {
    const voice = await started(new FakeVoiceIntegration(secrets.voice));
    const config = {
      id: 'voice',
      kind: 'voice_webhook',
      url: `${voice.url}/calls`,
      secret: secrets.voice,
      timeoutMs: 600,
    };
    const harness = build(config);
    const result = await harness.channel.send(recipient, notification);
    expect(result.outcome).toBe('sent');
    expect(voice.calls[0]).toMatchObject({
      phone: '13800138000',
      severity: 'critical',
      incidentIds: ['inc-42'],
      url: notification.url,
    });
    expect(result.outcome === 'sent' && result.reference).toBe(voice.calls[0]?.callId);
    await expectOutagesRetryable(harness, voice);
    const wrong = build({ ...config, id: 'voice-wrong', secret: 'a-different-secret-of-length' });
    expect(await wrong.channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(wrong.channel.status().health).toBe('credentials_refused');
    expectNoSecrets(harness);
  });
});

describe('web_push on a real hub', () => {
  let hub: TestHub;
  let push: FakePushService;
  let token: string;

  beforeAll(async () => {
    push = await started(new FakePushService());
    const config = demoConfig() as Record<string, unknown>;
    config.notify = {
      channels: [
        {
          id: 'push',
          kind: 'web_push',
          vapid: { subject: 'mailto:ops@grid.example.gov.cn' },
          // A local push service: only tests name a loopback address and allow http.
          endpointHosts: ['127.0.0.1'],
          allowHttpEndpoints: true,
          maxSubscriptionsPerUser: 2,
          timeoutMs: 2000,
        },
      ],
    };
    hub = await startTestHub({ deployment: deploymentOf(config) });
    const login = await fetch(`${hub.httpUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'worker-xijiao-04', password: 'demo-password-worker-xijiao-04' }),
    });
    token = ((await login.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await hub?.stop();
  });

  const call = async (method: string, path: string, body?: unknown, raw?: string) => {
    const response = await fetch(`${hub.httpUrl}/api/push${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined && raw === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(raw !== undefined ? { body: raw } : body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const refusals = (reason: string) =>
    metricValue(hub.httpUrl, `gridhub_push_refusals_total{reason="${reason}"}`);

  it('subscribes through the API, encrypts and signs per RFC 8291/8292, and drops a subscription answered 410', async () => {
    const key = await call('GET', '/key');
    expect(key.status).toBe(200);
    const publicKey = key.body.publicKey as string;
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    push.vapidPublicKey = publicKey;
    // The same key again: kept in the store's records.
    expect((await call('GET', '/key')).body.publicKey).toBe(publicKey);

    const phone = push.subscribe('phone-1');
    const tablet = push.subscribe('tablet-1');
    for (const device of [phone, tablet]) {
      const answer = await call('POST', '/subscriptions', {
        endpoint: device.endpoint,
        expirationTime: null,
        keys: { p256dh: device.keys.p256dh, auth: device.keys.auth },
      });
      expect(answer.status).toBe(201);
    }
    const mine = await call('GET', '/subscriptions');
    expect(mine.body.subscriptions).toHaveLength(2);
    expect(JSON.stringify(mine.body)).not.toContain(phone.keys.p256dh);
    expect(JSON.stringify(mine.body)).not.toContain('/push/phone-1');

    const metrics = new MetricsRegistry();
    const [channel] = createChannels(hub.hub.deployment.notify.channels, {
      store: hub.testHandle.store,
      logger: pino({ level: 'silent' }),
      metrics,
    });
    if (channel === undefined) throw new Error('no channel');
    await channel.start?.();
    expect(await channel.reaches(recipient)).toBe(true);
    expect(await channel.reaches(nobody)).toBe(false);
    expect(await channel.send(nobody, notification)).toMatchObject({ outcome: 'unreachable' });

    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'sent' });
    expect(push.messages).toHaveLength(2);
    for (const message of push.messages) {
      expect(message.payload).toEqual({
        title: notification.title,
        body: notification.body,
        url: notification.url,
        tag: 'inc-42',
        severity: 'critical',
        incidentIds: ['inc-42'],
      });
      expect(message.urgency).toBe('high');
      expect(message.ttl).toBeGreaterThan(0);
      expect(message.topic).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(message.vapid.sub).toBe('mailto:ops@grid.example.gov.cn');
    }
    // The same case, the same topic: the newer message replaces the older one at the push service.
    expect(push.messages[0]?.topic).toBe(push.messages[1]?.topic);

    // The push service down (5xx on both, then no answer at all): retryable, no throw.
    push.failNext(503);
    push.failNext(503);
    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'failed', retryable: true });
    expect(channel.status().health).toBe('failing');
    push.stallNext();
    push.stallNext();
    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'failed', retryable: true });
    // The push service refuses the hub's VAPID signature (403): credentials_refused, until a delivery succeeds.
    push.vapidPublicKey = 'a-key-the-hub-does-not-have';
    expect(await channel.send(recipient, notification)).toMatchObject({
      outcome: 'failed',
      retryable: false,
    });
    expect(channel.status().health).toBe('credentials_refused');
    push.malformed.length = 0;
    push.vapidPublicKey = publicKey;
    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'sent' });
    expect(channel.status().health).toBe('ok');

    // The tablet's browser dropped its subscription: 410, removed, the phone still served.
    push.gone.add('tablet-1');
    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'sent' });
    expect((await call('GET', '/subscriptions')).body.subscriptions).toHaveLength(1);
    push.gone.add('phone-1');
    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'unreachable' });
    expect((await call('GET', '/subscriptions')).body.subscriptions).toHaveLength(0);
    expect(await channel.reaches(recipient)).toBe(false);

    // A subscription past its browser's expirationTime is removed, not sent to.
    const lapsed = push.subscribe('lapsed-1');
    const answer = await call('POST', '/subscriptions', {
      endpoint: lapsed.endpoint,
      expirationTime: Date.now() - 1000,
      keys: { p256dh: lapsed.keys.p256dh, auth: lapsed.keys.auth },
    });
    expect(answer.status).toBe(201);
    const before = push.received.length;
    expect(await channel.send(recipient, notification)).toMatchObject({ outcome: 'unreachable' });
    expect(push.received.length).toBe(before);
    expect((await call('GET', '/subscriptions')).body.subscriptions).toHaveLength(0);
  });

  it('refuses bad subscriptions with a clear 4xx each, counted', async () => {
    const device = push.subscribe('refusals');
    const good = {
      endpoint: device.endpoint,
      expirationTime: null,
      keys: { p256dh: device.keys.p256dh, auth: device.keys.auth },
    };
    const offCurve = Buffer.from(device.keys.p256dh, 'base64url');
    offCurve[64] = (offCurve[64] ?? 0) ^ 1;
    const cases: [string, unknown, number, string][] = [
      ['malformed p256dh', { ...good, keys: { ...good.keys, p256dh: 'not base64!' } }, 400, 'invalid'],
      ['short auth', { ...good, keys: { ...good.keys, auth: 'AAAA' } }, 400, 'invalid'],
      [
        'a point not on the curve',
        { ...good, keys: { ...good.keys, p256dh: offCurve.toString('base64url') } },
        400,
        'key_not_on_curve',
      ],
      ['an unknown field', { ...good, extra: 1 }, 400, 'invalid'],
      ['a host not allowed', { ...good, endpoint: 'https://push.evil.example/x' }, 400, 'endpoint_host'],
      [
        'a host not allowed by IP',
        { ...good, endpoint: 'http://169.254.169.254/latest' },
        400,
        'endpoint_host',
      ],
      ['a non-http scheme', { ...good, endpoint: 'ftp://127.0.0.1/x' }, 400, 'endpoint_scheme'],
    ];
    for (const [what, body, status, reason] of cases) {
      const before = await refusals(reason);
      const answer = await call('POST', '/subscriptions', body);
      expect(answer.status, what).toBe(status);
      expect(await refusals(reason), what).toBe(before + 1);
    }
    const oversized = await call(
      'POST',
      '/subscriptions',
      undefined,
      JSON.stringify({ ...good, pad: 'x'.repeat(5000) }),
    );
    expect(oversized.status).toBe(413);
    expect(await refusals('too_large')).toBe(1);

    // Two allowed (maxSubscriptionsPerUser: 2); a third is refused until one is removed; a renewal is not a new one.
    const first = push.subscribe('limit-1');
    const second = push.subscribe('limit-2');
    const third = push.subscribe('limit-3');
    const body = (each: typeof first) => ({
      endpoint: each.endpoint,
      expirationTime: null,
      keys: { p256dh: each.keys.p256dh, auth: each.keys.auth },
    });
    expect((await call('POST', '/subscriptions', body(first))).status).toBe(201);
    expect((await call('POST', '/subscriptions', body(second))).status).toBe(201);
    expect((await call('POST', '/subscriptions', body(second))).status).toBe(200);
    const tooMany = await call('POST', '/subscriptions', body(third));
    expect(tooMany.status).toBe(409);
    expect((tooMany.body.error as { code: string }).code).toBe('too_many_subscriptions');
    expect(await refusals('too_many')).toBe(1);
    expect((await call('DELETE', '/subscriptions', { endpoint: first.endpoint })).status).toBe(200);
    expect((await call('DELETE', '/subscriptions', { endpoint: first.endpoint })).status).toBe(404);
    expect((await call('POST', '/subscriptions', body(third))).status).toBe(201);

    const anonymous = await fetch(`${hub.httpUrl}/api/push/subscriptions`);
    expect(anonymous.status).toBe(401);
  });

  it('answers 404, counted, on a hub without a web_push channel', async () => {
    const plain = await startTestHub();
    try {
      const response = await fetch(`${plain.httpUrl}/api/push/key`, {
        headers: { authorization: `Bearer ${token}` },
      });
      // The other hub does not know this hub's JWT: log in there.
      expect(response.status).toBe(401);
      const login = await fetch(`${plain.httpUrl}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'worker-xijiao-04', password: 'demo-password-worker-xijiao-04' }),
      });
      const own = ((await login.json()) as { token: string }).token;
      const key = await fetch(`${plain.httpUrl}/api/push/key`, {
        headers: { authorization: `Bearer ${own}` },
      });
      expect(key.status).toBe(404);
      expect(await metricValue(plain.httpUrl, 'gridhub_push_refusals_total{reason="not_configured"}')).toBe(
        1,
      );
    } finally {
      await plain.stop();
    }
  });
});
