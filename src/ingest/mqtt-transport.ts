import type { Server as HttpServer } from 'node:http';
import type { ComponentState } from '../core/component-state.ts';
import type { TlsMaterial } from '../security/tls-credentials.ts';

/** Receives every device publish before it is acknowledged; undefined when the topic is not the hub's. */
export type MessageHandler = (
  topic: string,
  payload: Buffer,
  receivedAt: number,
) => Promise<void> | undefined;

export type MqttMode = 'embedded' | 'external' | 'clustered';

/** What the health report shows of the MQTT side. */
export interface MqttHealth extends Record<string, unknown> {
  readonly state: ComponentState;
  readonly mode: MqttMode;
}

/**
 * The one thing the hub's components know of MQTT, whichever broker carries it: the ingest is fed through the
 * transport's MessageHandler (given at construction), commands and the incident feed are published through it,
 * and the fleet asks it whether a device is reachable and closes a device's connection through it.
 */
export interface MqttTransport {
  readonly mode: MqttMode;
  readonly state: ComponentState;
  /** The TCP port of an embedded broker; 0 when the hub runs no broker of its own. */
  readonly port: number;
  /** MQTT clients connected to this instance's broker (0 when the hub runs none). */
  readonly connectedClients: number;
  start(): Promise<void>;
  /** MQTT over WebSocket on the hub's HTTP server, where the hub runs a broker. */
  attachWebSocket(server: HttpServer): void;
  /** Publishes from the hub itself (commands, the incident feed), at QoS 1. */
  publish(topic: string, payload: string): Promise<void>;
  /** Whether the device can be reached now: connected to this instance or, in a cluster, to a sibling. */
  isConnected(deviceId: string): boolean | Promise<boolean>;
  /** Ends a device's connection (disabled, or given a new secret), where the hub holds connections. */
  disconnect(deviceId: string): void;
  /**
   * Whether a topic has anyone to receive it, where the hub runs the broker and can tell (erring on yes); left out,
   * the hub's own publishers (the incident feed) assume someone does.
   */
  hasSubscribers?(topic: string): boolean;
  /** The hub's own broker with MQTTS: new certificate files for new connections. */
  setSecureContext?(material: TlsMaterial): void;
  stop(): Promise<void>;
  health(): MqttHealth;
}
