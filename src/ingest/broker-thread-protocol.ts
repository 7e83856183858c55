/**
 * The one typed boundary between the hub's thread and its broker thread (ThreadedBroker, broker-thread.ts). The
 * broker thread holds the devices' connections and speaks MQTT; the hub's thread decides: who a client is, what a
 * message means, and when it may be acknowledged. Everything crosses as plain, cloneable data.
 */

import type { Principal } from '../core/principal.ts';
import type {
  ClientCertificateCheck,
  ClientCertificateMode,
  TlsMaterial,
} from '../security/tls-credentials.ts';
import type { LimitClose, PacketLimits } from './packet-limits.ts';

/** What the broker thread is started with (workerData). */
export interface BrokerThreadSettings {
  readonly host: string;
  readonly port: number;
  readonly topicBase: string;
  readonly feedTopic: string;
  /** For the incident feed's visibility rule (Visibility), which the broker thread applies to each subscriber. */
  readonly deviceHealthCategories: readonly string[];
  readonly logLevel: string;
  /**
   * Where the thread's message ids start: each start of the thread its own range, so an answer meant for a thread
   * that has gone can never acknowledge another's message.
   */
  readonly firstId: number;
  readonly limits: PacketLimits;
  /** MQTTS: the certificate in use when the thread starts, and whether devices present client certificates. */
  readonly tls?: TlsMaterial & { readonly clientCertificates: ClientCertificateMode };
}

/** One device publish waiting for the hub: acknowledged (PUBACK) only once the hub answers it ok. */
export interface ThreadMessage {
  readonly id: number;
  readonly topic: string;
  /** Where its payload is in the batch's `payloads`. */
  readonly start: number;
  readonly end: number;
  /** Epoch ms (performance.timeOrigin + performance.now() in the broker thread): the threads' clocks differ. */
  readonly receivedAt: number;
}

/** Broker thread → hub thread. */
export type FromBrokerThread =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly code?: string; readonly message: string }
  | {
      readonly type: 'authenticate';
      readonly id: number;
      readonly clientId: string;
      readonly username: string | undefined;
      readonly password: Uint8Array | undefined;
      /** The client's remote address, where known: for the limits on guessing and the logs. */
      readonly address: string | undefined;
      /** What the connection's client certificate binds it to (MQTTS with client certificates). */
      readonly certificate?: ClientCertificateCheck;
    }
  /** A TLS handshake on the MQTTS port failed. */
  | { readonly type: 'tls-failure'; readonly address: string | undefined; readonly message: string }
  /**
   * Device publishes of one turn, in order, their payloads one after the other in `payloads`: a buffer of its own,
   * transferred, not copied (a payload aedes parsed is a view into its socket's read buffer, which a message
   * would copy whole).
   */
  | { readonly type: 'messages'; readonly messages: readonly ThreadMessage[]; readonly payloads: Uint8Array }
  | {
      readonly type: 'refused';
      readonly reason: 'publish_denied' | 'subscribe_denied';
      readonly clientId: string;
      readonly topic: string;
    }
  /** A client finished connecting (registered, before its CONNACK): a user's connection, or a device's. */
  | { readonly type: 'connected'; readonly clientId: string; readonly user: boolean }
  | { readonly type: 'disconnected'; readonly clientId: string }
  /** How many clients are connected now. */
  | { readonly type: 'clients'; readonly count: number }
  /** Whether the watched topics have subscribers, each that changed (and each newly watched). */
  | { readonly type: 'subscribers'; readonly topics: readonly (readonly [string, boolean])[] }
  | { readonly type: 'published'; readonly id: number; readonly error?: string }
  | { readonly type: 'store-failure' }
  /** A connection closed at a packet limit or the connect timeout: counted and logged in the hub's thread. */
  | { readonly type: 'limit-close'; readonly close: LimitClose }
  | { readonly type: 'socket-data'; readonly socketId: number; readonly data: Uint8Array }
  /**
   * aedes ended a relayed connection; `aborted`: for a packet over its limit, so the hub's thread drops it at once
   * rather than closing it politely while it goes on sending.
   */
  | { readonly type: 'socket-end'; readonly socketId: number; readonly aborted?: boolean }
  /** The thread holds enough of a relayed connection's input: the hub's thread stops reading it until resumed. */
  | { readonly type: 'socket-pause'; readonly socketId: number }
  | { readonly type: 'socket-resume'; readonly socketId: number }
  | { readonly type: 'heap'; readonly id: number; readonly heapUsed: number }
  | { readonly type: 'stopped' };

/** Hub thread → broker thread. */
export type ToBrokerThread =
  | {
      readonly type: 'decision';
      readonly id: number;
      readonly allowed: boolean;
      readonly reason?: string;
      /** Authenticated as this user: what the thread needs to forward the incident feed to them. */
      readonly user?: Principal;
    }
  /** The hub's answers to device publishes of one turn: ids acknowledged, and ids failed (not acknowledged). */
  | { readonly type: 'answers'; readonly ok: readonly number[]; readonly failed: readonly number[] }
  | {
      readonly type: 'publish';
      readonly id: number;
      readonly topic: string;
      readonly payload: string;
    }
  | { readonly type: 'disconnect'; readonly clientId: string }
  | { readonly type: 'watch'; readonly topic: string }
  /** A WebSocket connection to the MQTT path, relayed: the hub's HTTP server holds it. */
  | { readonly type: 'socket-open'; readonly socketId: number; readonly address: string | undefined }
  | { readonly type: 'socket-data'; readonly socketId: number; readonly data: Uint8Array }
  | { readonly type: 'socket-end'; readonly socketId: number }
  /** How much heap the thread holds (after a full collection where the process exposes one). */
  | { readonly type: 'heap'; readonly id: number }
  /** New certificate files were loaded: new MQTTS connections get them. */
  | { readonly type: 'tls'; readonly material: TlsMaterial }
  | { readonly type: 'stop' };

/**
 * Bytes to post to the other thread: copied into a buffer of their own, to be transferred, not cloned. A Buffer is
 * often a view into a larger one (a socket's read buffer, Node's pool), and a message would copy all of that.
 */
export function ownBytes(data: Uint8Array): Uint8Array<ArrayBuffer> {
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy;
}
