import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { webhookSignature } from '../../outbound/webhooks.ts';
import type { Notification, Recipient } from '../channel.ts';
import type { ChannelDependencies } from './channel-dependencies.ts';
import {
  type Attempt,
  callProvider,
  commonChannelSettings,
  credential,
  credentialsRefused,
  field,
  ProviderChannel,
  refused,
  retryable,
  sent,
  transportFailure,
  unreachable,
} from './channel-support.ts';

/**
 * A call-centre or IVR integration: the hub POSTs {callId, phone, text, severity, incidentIds, url} and the receiver
 * places the call. Signed as the outbound webhooks are (outbound/webhooks.ts): `x-gridhub-timestamp` (Unix
 * seconds) and `x-gridhub-signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`, so a receiver
 * that checks one checks both. A 2xx is "sent" (the call is placed, not yet answered); its JSON `callId` or `id`
 * is the reference.
 */
export const voiceWebhookSchema = z.strictObject({
  ...commonChannelSettings,
  kind: z.literal('voice_webhook'),
  url: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .describe("The integration's address."),
  secret: credential('The shared HMAC secret (at least 16 characters)').refine(
    (secret) => secret.length >= 16,
    {
      message: 'at least 16 characters',
    },
  ),
});
export type VoiceWebhookConfig = z.infer<typeof voiceWebhookSchema>;

export class VoiceWebhookChannel extends ProviderChannel {
  readonly #config: VoiceWebhookConfig;

  constructor(config: VoiceWebhookConfig, dependencies: ChannelDependencies) {
    super(config.id, 'voice_webhook', dependencies, [config.secret]);
    this.#config = config;
  }

  reaches(recipient: Recipient): boolean {
    return recipient.contact.phone !== undefined;
  }

  protected async deliver(recipient: Recipient, notification: Notification): Promise<Attempt> {
    const phone = recipient.contact.phone;
    if (phone === undefined) return unreachable('no phone number');
    const callId = randomUUID();
    const body = JSON.stringify({
      callId,
      notificationId: notification.id,
      phone,
      text: `${notification.title}。${notification.body}`,
      severity: notification.severity,
      incidentIds: notification.incidentIds,
      url: notification.url,
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const answer = await callProvider(this.#config.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gridhub-timestamp': String(timestamp),
        'x-gridhub-signature': webhookSignature(this.#config.secret, timestamp, body),
      },
      body,
      timeoutMs: this.#config.timeoutMs,
    });
    const failure = transportFailure(answer);
    if (failure !== undefined || !answer.answered) return failure ?? retryable('no answer');
    if (answer.status === 401 || answer.status === 403)
      return credentialsRefused(`the voice integration refused the signature (HTTP ${answer.status})`);
    if (answer.status < 200 || answer.status > 299)
      return refused(`the voice integration answered HTTP ${answer.status}`);
    const reference = field(answer.json, 'callId') ?? field(answer.json, 'id');
    return sent(typeof reference === 'string' ? reference : callId);
  }
}

export const createVoiceWebhookChannel = (config: VoiceWebhookConfig, dependencies: ChannelDependencies) =>
  new VoiceWebhookChannel(config, dependencies);
