import type { z } from 'zod';
import type { AttributeValue, NormalizedEvent } from './device-event.ts';
import type { IdentifierPolicy } from './privacy.ts';

/**
 * The adapter contract, after zigbee-herdsman-converters: a device family is data. The hub holds no vendor
 * code; it validates a raw frame with the adapter's zod schema and hands it to a pure decoder, and it encodes
 * commands with the adapter's pure encoders. An adapter imports only src/core; what it needs at run time arrives
 * in the DecodeContext.
 *
 * The wire, per device (see core/topics.ts):
 *   device → hub   <base>/devices/<id>/events     event frames            decoded by channels.events
 *   device → hub   <base>/devices/<id>/heartbeat  periodic state frames   decoded by channels.heartbeat
 *   device → hub   <base>/devices/<id>/replies    answers to commands     decoded by replies
 *   device → hub   <base>/devices/<id>/status     {"state":"online"|"offline"}, retained; the device's last will
 *   hub → device   <base>/devices/<id>/commands   commands                encoded by commands[name].encode
 */
export interface DecodeContext {
  /** How personal identifiers (card numbers, plates) are minimised before they leave the decoder. */
  readonly identifiers: IdentifierPolicy;
}

/** One kind of frame the device publishes on a channel of the topic grammar. */
export interface FrameDecoder<Raw> {
  readonly schema: z.ZodType<Raw>;
  /** Pure: raw frame in, normalized events out (none when the frame carries nothing to act on). */
  readonly decode: (raw: Raw, context: DecodeContext) => readonly NormalizedEvent[];
}

/** What an adapter says about each normalized event type it can emit (zigbee2mqtt's "exposes"). */
export interface EventDescription {
  readonly description: string;
  /** Attribute names the event can carry, for documentation and the conformance kit. */
  readonly attributes: readonly string[];
}

/** A command the hub can send: its parameters as the API takes them, and the device's payload for it. */
export interface CommandDefinition<Params> {
  readonly description: string;
  /** Validates the parameters an API caller gives; strict. */
  readonly params: z.ZodType<Params>;
  /** Pure: the JSON payload published on the device's commands topic. It must carry requestId for the reply. */
  readonly encode: (params: Params, requestId: string) => unknown;
}

/** A device's answer to a command, normalized. */
export interface CommandReply {
  readonly requestId: string;
  readonly ok: boolean;
  /** Why the device refused or failed, in its own words. */
  readonly error?: string;
  readonly result?: Readonly<Record<string, AttributeValue>>;
}

export interface ReplyDecoder<Raw> {
  readonly schema: z.ZodType<Raw>;
  readonly decode: (raw: Raw) => CommandReply;
}

/**
 * A duty the device must perform periodically (a sentry guard's check-in): when `resetBy` has not been seen
 * for `defaultSeconds` (or the device's override in the config), the hub raises `raises` for the device.
 * The next `resetBy` clears it.
 */
export interface WatchdogDefinition {
  readonly resetBy: string;
  readonly raises: string;
  readonly defaultSeconds: number;
}

export interface LivenessDefaults {
  /** How often the device sends a heartbeat. */
  readonly heartbeatSeconds: number;
  /** Silence after which the device is offline and a device-offline incident is raised. */
  readonly offlineAfterSeconds: number;
}

/**
 * An ONVIF event notification as the hub's session hands it to an adapter: the topic normalized — namespace
 * prefixes dropped from every step (`tns1:Device/Trigger/tnshik:AlarmIn` → `Device/Trigger/AlarmIn`), a trailing
 * `/` or `//.` dropped — the time, and the SimpleItems of its Source and Data. An `Initialized` operation is a
 * property's state when a subscription starts: a decoder sets a state from it, never raises a momentary alarm.
 */
export interface OnvifNotification {
  readonly topic: string;
  /** Epoch ms of the notification's UtcTime on the hub's clock (moved by the camera's clock offset); the hub's time when the camera gave none. */
  readonly time: number;
  readonly operation: 'Initialized' | 'Changed' | 'Deleted' | string;
  readonly source: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
}

/** Pure: an ONVIF notification of one topic → the normalized event, or none (a state going back to idle). */
export type OnvifTopicDecoder = (notification: OnvifNotification) => NormalizedEvent | undefined;

/**
 * Where a camera with an HTTP API (Hikvision ISAPI, Dahua CGI) keeps its evidence, as data: a path on the device's
 * `http.url` for a JPEG snapshot, and the RTSP stream on the same host. The hub fetches them with the device's
 * `http` login, through the same evidence pipeline as an ONVIF camera's.
 */
export interface HttpCameraMedia {
  /** e.g. `/ISAPI/Streaming/channels/101/picture`, `/cgi-bin/snapshot.cgi?channel=1`. */
  readonly snapshotPath?: string;
  /** e.g. `{ port: 554, path: '/Streaming/Channels/101' }`. */
  readonly stream?: { readonly port: number; readonly path: string };
}

/**
 * How the hub reaches a device: it connects to the hub's MQTT broker; the hub connects to it over ONVIF; it reports
 * to the hub's SIA DC-09 receiver (an alarm panel, over TCP or UDP, named by its account); it pushes to the device
 * HTTP listener over ZKTeco's ADMS (iclock), known by its serial number; the hub follows its Hikvision ISAPI
 * alert stream and takes its pushes (src/ingest/hikvision-isapi.ts); or the hub attaches to its Dahua CGI event
 * stream (`eventManager.cgi?action=attach`) on its `http` address; or it registers to the hub's GB/T 28181 SIP
 * server (src/ingest/gb28181/) and is known by its 20-digit national code: not dialled, it comes to the hub.
 */
export type DeviceTransport =
  | 'mqtt'
  | 'onvif'
  | 'sia-dc09'
  | 'zkteco-adms'
  | 'hikvision-isapi'
  | 'dahua-cgi'
  | 'gb28181';

/**
 * The transports of devices the hub connects to rather than they to it, and the access it dials each through: a
 * device without that access (a Hikvision device that only pushes) is not dialled.
 */
const dialledAccess: Partial<Record<DeviceTransport, 'onvif' | 'http'>> = {
  onvif: 'onvif',
  'dahua-cgi': 'http',
  'hikvision-isapi': 'http',
};

/**
 * Transports of devices the hub connects to rather than they to it: among hub instances sharing Redis, each such
 * device is followed by one instance only, the holder of its lease (src/cameras/sessions/camera-leases.ts).
 */
export const dialledTransports: ReadonlySet<DeviceTransport> = new Set(
  Object.keys(dialledAccess) as DeviceTransport[],
);

/**
 * Whether the hub dials the device: its transport is dialled and it has the access the hub dials it through. Only
 * such a device takes a lease, so one that only pushes counts in no instance's share.
 */
export function isDialled(device: {
  readonly adapter: Pick<DeviceAdapter, 'transport'>;
  readonly onvif?: unknown;
  readonly http?: unknown;
}): boolean {
  const access = dialledAccess[device.adapter.transport ?? 'mqtt'];
  return access !== undefined && device[access] !== undefined;
}

export interface DeviceAdapter {
  /** Matches the folder name under devices/ and the `adapter` of a device in the config. */
  readonly id: string;
  /** `mqtt` when absent. */
  readonly transport?: DeviceTransport;
  /** ONVIF adapters: a decoder per event topic; topics not listed are logged and counted, never fatal. */
  readonly onvifTopics?: Readonly<Record<string, OnvifTopicDecoder>>;
  /** Cameras with an HTTP API: where their snapshot and stream are (see HttpCameraMedia). */
  readonly httpMedia?: HttpCameraMedia;
  readonly vendor: string;
  readonly models: readonly string[];
  readonly description: string;
  readonly events: Readonly<Record<string, EventDescription>>;
  // biome-ignore lint/suspicious/noExplicitAny: each channel has its own raw type; the schema narrows it at run time.
  readonly channels: Readonly<Partial<Record<DecodedChannel, FrameDecoder<any>>>>;
  // biome-ignore lint/suspicious/noExplicitAny: each command has its own parameter type, checked by its schema.
  readonly commands: Readonly<Record<string, CommandDefinition<any>>>;
  // biome-ignore lint/suspicious/noExplicitAny: the reply's raw type is the adapter's own.
  readonly replies?: ReplyDecoder<any>;
  readonly liveness: LivenessDefaults;
  readonly watchdogs?: readonly WatchdogDefinition[];
}

/** Channels whose frames the device's adapter decodes. */
export type DecodedChannel = 'events' | 'heartbeat';

/**
 * Events the hub itself raises about any device, whatever its adapter: they can have rules like any other.
 * `device.online` clears `device.offline`.
 */
export const livenessEvents = {
  'device.offline': {
    description: 'The device has been silent past its threshold.',
    attributes: ['silentSeconds'],
  },
  'device.online': {
    description: 'The device is heard from again after being offline.',
    attributes: ['offlineSeconds'],
  },
} as const satisfies Record<string, EventDescription>;

/** Identity functions that keep the raw types of a decoder or command checked where it is written. */
export function frameDecoder<Raw>(decoder: FrameDecoder<Raw>): FrameDecoder<Raw> {
  return decoder;
}
export function commandDefinition<Params>(command: CommandDefinition<Params>): CommandDefinition<Params> {
  return command;
}
export function replyDecoder<Raw>(decoder: ReplyDecoder<Raw>): ReplyDecoder<Raw> {
  return decoder;
}
