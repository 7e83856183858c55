import { z } from 'zod';
import { dingtalkRobotSchema } from './dingtalk-robot.ts';
import { smsAliyunSchema } from './sms-aliyun.ts';
import { smsHttpSchema } from './sms-http.ts';
import { smsTencentSchema } from './sms-tencent.ts';
import { voiceWebhookSchema } from './voice-webhook.ts';
import { webPushSchema } from './web-push.ts';
import { wecomAppSchema } from './wecom-app.ts';
import { wecomRobotSchema } from './wecom-robot.ts';

export { channelIdSchema } from './channel-id.ts';

/**
 * One notification channel in the config: its id, its kind, and the kind's own settings (provider address,
 * credentials as secret references). Each kind's settings are checked by its module's schema.
 */
export const channelSchema = z.discriminatedUnion('kind', [
  webPushSchema,
  wecomAppSchema,
  wecomRobotSchema,
  dingtalkRobotSchema,
  smsHttpSchema,
  smsAliyunSchema,
  smsTencentSchema,
  voiceWebhookSchema,
]);
export type ChannelConfig = z.infer<typeof channelSchema>;
/** The settings of one kind. */
export type ChannelConfigOf<K extends ChannelConfig['kind']> = Extract<ChannelConfig, { kind: K }>;
