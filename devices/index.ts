import type { DeviceAdapter } from '../src/core/adapter.ts';
import { alarmPanelCid } from './alarm-panel-cid/index.ts';
import { dahuaCgi } from './dahua-cgi/index.ts';
import { gateAccess } from './gate-access/index.ts';
import { gb28181 } from './gb28181/index.ts';
import { hikvisionIsapi } from './hikvision-isapi/index.ts';
import { onvifCamera } from './onvif-camera/index.ts';
import { sentryBox } from './sentry-box/index.ts';
import { zktecoAdms } from './zkteco-adms/index.ts';

/**
 * Every device adapter the hub knows, listed explicitly (as zigbee-herdsman-converters' devices/index).
 * Adding an adapter is adding its folder and one line here; test/devices/registry.test.ts checks that
 * every folder is listed and every id is unique.
 */
export const adapters: readonly DeviceAdapter[] = [
  gateAccess,
  sentryBox,
  onvifCamera,
  alarmPanelCid,
  zktecoAdms,
  hikvisionIsapi,
  dahuaCgi,
  gb28181,
];
