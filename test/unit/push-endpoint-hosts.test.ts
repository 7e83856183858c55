import { describe, expect, it } from 'vitest';
import { channelSchema } from '../../src/notify/channels/channel-schema.ts';
import { defaultEndpointHosts } from '../../src/notify/channels/web-push.ts';
import { endpointHostAllowed } from '../../src/notify/push-subscriptions.ts';

describe('the Web Push endpoint allow-list', () => {
  it('takes the major push services by default, and nothing local', () => {
    for (const host of [
      'fcm.googleapis.com',
      'updates.push.services.mozilla.com',
      'wns2-by3p.notify.windows.com',
      'web.push.apple.com',
    ])
      expect(endpointHostAllowed(host, defaultEndpointHosts), host).toBe(true);
    for (const host of [
      '127.0.0.1',
      'localhost',
      '169.254.169.254',
      'notify.windows.com',
      'evil-notify.windows.com',
      'fcm.googleapis.com.evil.example',
      'push.apple.com',
    ])
      expect(endpointHostAllowed(host, defaultEndpointHosts), host).toBe(false);
  });

  it('lets an address through only where an entry names it exactly, never by a wildcard', () => {
    expect(endpointHostAllowed('127.0.0.1', ['127.0.0.1'])).toBe(true);
    expect(endpointHostAllowed('127.0.0.2', ['127.0.0.1'])).toBe(false);
    expect(endpointHostAllowed('10.0.0.1', ['*.0.0.1'])).toBe(false);
  });

  it('keeps http endpoints off and the defaults in place unless a config says otherwise', () => {
    const parsed = channelSchema.parse({
      id: 'push',
      kind: 'web_push',
      vapid: { subject: 'mailto:ops@example.gov.cn' },
    });
    expect(parsed).toMatchObject({
      allowHttpEndpoints: false,
      endpointHosts: defaultEndpointHosts,
      maxSubscriptionsPerUser: 5,
    });
    expect(() =>
      channelSchema.parse({
        id: 'push',
        kind: 'web_push',
        vapid: { subject: 'mailto:a@b.c', publicKey: 'B'.repeat(87) },
      }),
    ).toThrow(/both publicKey and privateKey/);
  });
});
