import type { Counter } from 'prom-client';
import { type Logger, LogThrottle } from '../observability/logger.ts';
import type { MqttLimitReason } from './ingest-metrics.ts';

/** How large a packet a connection may send: before CONNACK (the CONNECT included), and after. */
export interface PacketLimits {
  readonly connectPacketBytes: number;
  readonly packetBytes: number;
  /** A connection whose CONNECT has not arrived whole within this long is closed (aedes' connectTimeout). */
  readonly connectTimeoutMs: number;
}

/** The code of the error a packet over its limit closes its connection with (aedes destroys the stream with it). */
export const packetTooLarge = 'MQTT_PACKET_TOO_LARGE';

/** A connection closed at a limit: what the broker reports, to be counted and logged in the hub's thread. */
export interface LimitClose {
  readonly reason: MqttLimitReason;
  readonly address: string | undefined;
  /** The packet type and the size its header announced (too large), not read. */
  readonly packet?: { readonly cmd: string; readonly bytes: number };
}

/**
 * The parts of an aedes client this reaches into (aedes 1.2, mqtt-packet 9): whether CONNACK was sent, and its
 * packet parser, which reads a packet's fixed header (its type, then its remaining length) before its body, and
 * otherwise appends every chunk to one list until the body announced is whole. `_parseLength` is the step that
 * learns the length.
 */
interface AedesClientParts {
  readonly connackSent: boolean;
  readonly _parser: {
    readonly packet: { readonly cmd: string; readonly length: number };
    _parseLength(): boolean;
    _emitError(error: Error): void;
  };
}

/**
 * Refuses a packet on its header, before its body is read: larger than `connectPacketBytes` before CONNACK (the
 * CONNECT, or anything sent before authentication ends), or than `packetBytes` after. A refusal is a protocol
 * error for aedes, which closes the connection at once ([MQTT-4.8.0-1]: the server closes the network connection
 * on a protocol violation); nothing of the body is buffered. Per connection, not per packet: the step replaced is
 * the parser's own, on this connection's parser only.
 */
export function limitPackets(
  client: unknown,
  limits: PacketLimits,
  onRefused: (packet: { cmd: string; bytes: number }, beforeConnack: boolean) => void,
): void {
  const parts = client as AedesClientParts;
  const parser = parts._parser;
  if (typeof parser?._parseLength !== 'function' || typeof parser._emitError !== 'function') {
    throw new Error('aedes client without the mqtt-packet parser this expects: check packet-limits.ts');
  }
  const parseLength = parser._parseLength;
  parser._parseLength = function limitedLength(this: AedesClientParts['_parser']): boolean {
    if (!parseLength.call(this)) return false;
    const beforeConnack = !parts.connackSent;
    const limit = beforeConnack ? limits.connectPacketBytes : limits.packetBytes;
    const { cmd, length } = this.packet;
    if (length <= limit) return true;
    onRefused({ cmd, bytes: length }, beforeConnack);
    const error = new Error(`${cmd} packet of ${length} bytes over the limit of ${limit}`);
    this._emitError(Object.assign(error, { code: packetTooLarge }));
    return false;
  };
}

/**
 * The largest WebSocket message the MQTT path takes: ws buffers a message whole before handing it on (100 MB by
 * default), so a message must be bounded as a packet is. Twice the packet limit: a client may send a packet in
 * one message with the start of the next.
 */
export function webSocketFrameLimit(limits: PacketLimits): number {
  return 2 * Math.max(limits.packetBytes, limits.connectPacketBytes);
}

/** Counts a close at a limit (gridhub_mqtt_limit_closes_total, mqttMetrics) and logs it (throttled per address and reason), with the remote address. */
export function limitCloseReporter(closes: Counter<'reason'>, logger: Logger): (close: LimitClose) => void {
  const log = logger.child({ ns: 'mqtt-limits' });
  const throttle = new LogThrottle();
  return ({ reason, address, packet }) => {
    closes.labels(reason).inc();
    const suppressed = throttle.admit(`${address}:${reason}`);
    if (suppressed < 0) return;
    log.warn(
      { reason, address, ...(packet === undefined ? {} : packet), suppressed },
      'mqtt connection closed at a limit',
    );
  };
}
