import { z } from 'zod';
import { nodeIdSchema, positionSchema } from '../core/schema-parts.ts';
import { deviceIdPattern } from '../core/topics.ts';
import { checkAllowEntry } from '../net/outbound-address.ts';

/**
 * A device as the config file describes it, with its MQTT secret (or the secret's digest). Provisioning through the
 * REST API takes the same description less the secret, which the hub makes; config/schema.ts checks at compile time
 * that it is core/device.ts's DeviceDescription, field for field.
 */

const secondsSetting = z
  .number()
  .positive()
  .max(7 * 24 * 3600);

export const deviceSchema = z.strictObject({
  id: z.string().regex(deviceIdPattern, 'must be lowercase letters, digits, ".", "_" or "-" (at most 64)'),
  name: z.string().min(1),
  adapter: z.string().min(1).describe('Id of the adapter under devices/ that decodes this device.'),
  grid: nodeIdSchema.optional().describe('The grid the device stands in. Give this or location, not both.'),
  location: positionSchema
    .optional()
    .describe('[lon, lat]: the hub places the device in the grid that contains it.'),
  address: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe(
      'Where a worker finds the device (street, building, floor), e.g. 西郊路12号3栋东门: shown on its task cards.',
    ),
  secret: z
    .string()
    .min(16, 'a device secret needs at least 16 characters')
    .max(256)
    .optional()
    .describe("The device's MQTT password (username and client id are the device id). Or give secretSha256."),
  secretSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the secret')
    .optional()
    .describe('SHA-256 of the secret, so the config need not hold the secret itself.'),
  offlineAfterSeconds: secondsSetting
    .optional()
    .describe("Silence after which the device is offline; default: its adapter's."),
  onvif: z
    .strictObject({
      xaddr: z
        .url({ protocol: /^https?$/ })
        .describe('The device service, e.g. http://10.0.0.21/onvif/device_service.'),
      username: z.string().min(1).max(64),
      password: z
        .string()
        .min(1)
        .max(256)
        .describe("The camera's password: kept in memory, never logged or pushed."),
    })
    .optional()
    .describe('ONVIF cameras: where the hub reaches the camera, and its credentials (instead of secret).'),
  sia: z
    .strictObject({
      account: z
        .string()
        .regex(/^[0-9A-F]{3,16}$/, 'must be 3 to 16 hexadecimal digits in capitals, as the panel sends it')
        .describe('The account the panel reports as (`#acct` of its SIA DC-09 messages).'),
      key: z
        .string()
        .min(16)
        .max(64)
        .optional()
        .describe(
          "The panel's AES key (128, 192 or 256 bits): a panel with a key must encrypt. Kept in memory, never logged; give it as {env: NAME} or {file: path}.",
        ),
      keyEncoding: z
        .enum(['hex', 'text'])
        .default('hex')
        .describe(
          'hex: 32, 48 or 64 hexadecimal digits (the standard); text: 16, 24 or 32 characters, their bytes.',
        ),
    })
    .refine(
      ({ key, keyEncoding }) =>
        key === undefined ||
        (keyEncoding === 'hex'
          ? /^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$/.test(key)
          : [16, 24, 32].includes(Buffer.byteLength(key))),
      { message: 'key: an AES key is 32, 48 or 64 hexadecimal digits, or 16, 24 or 32 bytes of text' },
    )
    .optional()
    .describe('Alarm panels reporting over SIA DC-09: their account and AES key (instead of secret).'),
  gb28181: z
    .strictObject({
      id: z
        .string()
        .regex(/^\d{20}$/, 'a national code (国标编码) is 20 digits')
        .describe(
          'The 20-digit national code (国标编码): what a GB/T 28181 device registers as, or a channel its catalog lists; on any other device, its code towards a superior platform.',
        ),
      password: z
        .string()
        .min(1)
        .max(256)
        .optional()
        .describe(
          'The SIP password a GB/T 28181 device registers with (digest): kept in memory, never logged or pushed. Give it as {env: NAME} or {file: path}. Not for channels.',
        ),
      parent: z
        .string()
        .regex(deviceIdPattern)
        .optional()
        .describe(
          'A channel (a camera or alarm input of an NVR): the gridhub id of the GB/T 28181 device it belongs to; it has no password of its own.',
        ),
      rtsp: z
        .strictObject({
          url: z.url({ protocol: /^rtsps?$/ }).describe('e.g. rtsp://10.0.0.41:554/Streaming/Channels/101'),
          username: z.string().min(1).max(64).optional(),
          password: z.string().min(1).max(256).optional(),
        })
        .optional()
        .describe(
          "Live view and clips: the device's RTSP stream (GB/T 28181's own SIP media session is not used). A snapshot is then a frame of it.",
        ),
      guard: z
        .boolean()
        .optional()
        .describe(
          'Arm the device (布防, DeviceControl SetGuard) each time it registers: for devices that report alarms only when armed.',
        ),
      snapshot: z
        .boolean()
        .optional()
        .describe(
          "Whether the device takes GB/T 28181-2022's snapshot command (SnapShotConfig); it uploads to the device HTTP listener (receivers.http).",
        ),
    })
    .optional()
    .describe(
      'GB/T 28181 devices (NVRs, cameras registering to the hub) and their channels; on any device, its national code for the cascade.',
    ),
  http: z
    .strictObject({
      url: z
        .url({ protocol: /^https?$/ })
        .describe("The device's base URL, e.g. http://10.0.0.31 (the protocol's paths are added to it)."),
      username: z.string().min(1).max(64),
      password: z
        .string()
        .min(1)
        .max(256)
        .describe("The device's password: kept in memory, never logged or pushed."),
    })
    .optional()
    .describe(
      'Devices whose HTTP API the hub calls (Hikvision ISAPI, Dahua CGI): where the hub reaches it, and its login there.',
    ),
  serial: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-" (at most 64)')
    .optional()
    .describe(
      'The serial number the device gives on its wire (Hikvision, Dahua, ZKTeco SN): how a device pushing to the hub is known. Unique.',
    ),
  pushFrom: z
    .array(
      z.string().superRefine((entry, context) => {
        try {
          checkAllowEntry(entry);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }),
    )
    .min(1)
    .max(16)
    .optional()
    .describe(
      'Devices that push over HTTP with no credential (ZKTeco ADMS): the networks their requests may come from (CIDRs, single addresses, private); others are refused. Absent: any address.',
    ),
  watches: z
    .array(z.string().regex(deviceIdPattern))
    .optional()
    .describe('Cameras: the devices this camera looks at; their incidents get its snapshot and clip.'),
  presets: z
    .record(z.string().regex(deviceIdPattern), z.string().min(1).max(64))
    .optional()
    .describe('PTZ cameras: the preset token to turn to when a watched device alarms, by device id.'),
  watchdogs: z
    .record(z.string(), secondsSetting)
    .optional()
    .describe(
      "Overrides of the adapter's watchdogs, by the event they raise, e.g. {guard.check_in_missed: 900}.",
    ),
});
