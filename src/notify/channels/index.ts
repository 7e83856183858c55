import type { ChannelKind, NotificationChannel } from '../channel.ts';
import type { ChannelDependencies } from './channel-dependencies.ts';
import type { ChannelConfig, ChannelConfigOf } from './channel-schema.ts';
import { createDingtalkRobotChannel } from './dingtalk-robot.ts';
import { createSmsAliyunChannel } from './sms-aliyun.ts';
import { createSmsHttpChannel } from './sms-http.ts';
import { createSmsTencentChannel } from './sms-tencent.ts';
import { createVoiceWebhookChannel } from './voice-webhook.ts';
import { createWebPushChannel } from './web-push.ts';
import { createWecomAppChannel } from './wecom-app.ts';
import { createWecomRobotChannel } from './wecom-robot.ts';

export type { ChannelDependencies } from './channel-dependencies.ts';

export type ChannelFactory<K extends ChannelKind = ChannelKind> = (
  config: ChannelConfigOf<K>,
  dependencies: ChannelDependencies,
) => NotificationChannel;

/** Each kind's module, by kind: a new provider is a module and a line here. */
export const channelFactories: { readonly [K in ChannelKind]: ChannelFactory<K> } = {
  web_push: createWebPushChannel,
  wecom_app: createWecomAppChannel,
  wecom_robot: createWecomRobotChannel,
  dingtalk_robot: createDingtalkRobotChannel,
  sms_http: createSmsHttpChannel,
  sms_aliyun: createSmsAliyunChannel,
  sms_tencent: createSmsTencentChannel,
  voice_webhook: createVoiceWebhookChannel,
};

/** The configured channels, each made by its kind's module. */
export function createChannels(
  configs: readonly ChannelConfig[],
  dependencies: ChannelDependencies,
): NotificationChannel[] {
  return configs.map((config) => {
    const factory = channelFactories[config.kind] as ChannelFactory;
    return factory(config as never, dependencies);
  });
}
