/**
 * The 20-digit national code (国标编码) every GB/T 28181 device, channel, platform and group carries, as GB/T
 * 28181-2016 Appendix D (and 2022 Appendix E, same layout) lays it out:
 *
 *   digits 1–8    centre code (中心编码): province 2, city 2, district 2, grassroots unit 2
 *   digits 9–10   industry code (行业编码)
 *   digits 11–13  type code (类型编码): what the thing is (111 DVR, 132 IPC, 200 platform …)
 *   digit  14     network (网络标识): 0–4 the video/alarm private network, 5 police network, 6 government
 *                 network, 7 Internet, 8 social resources network, 9 reserved
 *   digits 15–20  serial number (设备、用户序号)
 *
 * The type table is data: the hub uses it to tell a channel (a camera, an alarm input) from the device that holds
 * it and from platforms and groups, which are not devices at all.
 */

export const nationalCodePattern = /^\d{20}$/;

export type GbKind =
  | 'dvr'
  | 'video-server'
  | 'encoder'
  | 'decoder'
  | 'matrix'
  | 'alarm-controller'
  | 'nvr'
  | 'hvr'
  | 'camera'
  | 'ipc'
  | 'display'
  | 'alarm-input'
  | 'alarm-output'
  | 'audio-input'
  | 'audio-output'
  | 'mobile'
  | 'peripheral'
  | 'platform'
  | 'server'
  | 'business-group'
  | 'virtual-organisation'
  | 'user'
  | 'other';

interface TypeCode {
  readonly kind: GbKind;
  /** The standard's own words, for logs and the README. */
  readonly name: string;
}

/**
 * Type codes of GB/T 28181-2016 Table D.2 (front-end 111–199, centre 200–299, users 300/400). Codes not listed
 * (the extension ranges, vendor codes) read as 'other'.
 */
export const typeCodes: Readonly<Record<number, TypeCode>> = {
  111: { kind: 'dvr', name: 'DVR 数字视频录像机' },
  112: { kind: 'video-server', name: '视频服务器' },
  113: { kind: 'encoder', name: '编码器' },
  114: { kind: 'decoder', name: '解码器' },
  115: { kind: 'matrix', name: '视频切换矩阵' },
  116: { kind: 'matrix', name: '音频切换矩阵' },
  117: { kind: 'alarm-controller', name: '报警控制器' },
  118: { kind: 'nvr', name: 'NVR 网络视频录像机' },
  119: { kind: 'hvr', name: 'HVR 混合硬盘录像机' },
  131: { kind: 'camera', name: '摄像机' },
  132: { kind: 'ipc', name: '网络摄像机 IPC' },
  133: { kind: 'display', name: '显示器' },
  134: { kind: 'alarm-input', name: '报警输入设备' },
  135: { kind: 'alarm-output', name: '报警输出设备' },
  136: { kind: 'audio-input', name: '语音输入设备' },
  137: { kind: 'audio-output', name: '语音输出设备' },
  138: { kind: 'mobile', name: '移动传输设备' },
  139: { kind: 'peripheral', name: '其他外围设备' },
  200: { kind: 'platform', name: '中心信令控制服务器 (SIP 服务器)' },
  201: { kind: 'server', name: 'Web 应用服务器' },
  202: { kind: 'server', name: '媒体分发服务器' },
  203: { kind: 'server', name: '代理服务器' },
  204: { kind: 'server', name: '安全服务器' },
  205: { kind: 'server', name: '报警服务器' },
  206: { kind: 'server', name: '数据库服务器' },
  207: { kind: 'server', name: 'GIS 服务器' },
  208: { kind: 'server', name: '管理服务器' },
  209: { kind: 'server', name: '接入网关' },
  210: { kind: 'server', name: '媒体存储服务器' },
  211: { kind: 'server', name: '信令安全路由网关' },
  215: { kind: 'business-group', name: '业务分组' },
  216: { kind: 'virtual-organisation', name: '虚拟组织' },
  300: { kind: 'user', name: '中心用户' },
  400: { kind: 'user', name: '终端用户' },
};

/** The kinds that are a channel of a recorder or encoder: what an NVR's catalog lists and its alarms name. */
export const channelKinds: ReadonlySet<GbKind> = new Set<GbKind>([
  'camera',
  'ipc',
  'alarm-input',
  'alarm-output',
]);

export interface NationalCode {
  readonly centre: string;
  readonly industry: string;
  readonly type: number;
  readonly network: number;
  readonly serial: string;
  readonly kind: GbKind;
}

/** The parts of a national code, or undefined when it is not 20 digits. */
export function readNationalCode(id: string): NationalCode | undefined {
  if (!nationalCodePattern.test(id)) return undefined;
  const type = Number(id.slice(10, 13));
  return {
    centre: id.slice(0, 8),
    industry: id.slice(8, 10),
    type,
    network: Number(id.slice(13, 14)),
    serial: id.slice(14),
    kind: typeCodes[type]?.kind ?? 'other',
  };
}

/** A national code from its parts (the cascade names its channels this way); undefined when a part does not fit. */
export function nationalCode(parts: {
  readonly centre: string;
  readonly industry: string;
  readonly type: number;
  readonly network: number;
  readonly serial: string | number;
}): string | undefined {
  const serial = String(parts.serial).padStart(6, '0');
  const code = `${parts.centre}${parts.industry}${String(parts.type).padStart(3, '0')}${parts.network}${serial}`;
  return nationalCodePattern.test(code) &&
    parts.centre.length === 8 &&
    parts.industry.length === 2 &&
    serial.length === 6
    ? code
    : undefined;
}

/** The ten-digit SIP domain (the centre code and industry code) a platform's devices share: `3402000000`. */
export function domainOf(id: string): string | undefined {
  return nationalCodePattern.test(id) ? id.slice(0, 10) : undefined;
}
