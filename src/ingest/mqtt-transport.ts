import type { Server as HttpServer } from 'node:http';
import type { ComponentState } from '../core/component.ts';
import type { CommandChannel, Connector } from '../core/connector.ts';
import type { TlsMaterial } from '../security/tls-credentials.ts';

/** The `mqtt.mode` of the config a transport serves. */
export type MqttMode = 'embedded' | 'external' | 'clustered';

/** What the health report shows of the MQTT side. */
export interface MqttHealth extends Record<string, unknown> {
  readonly state: ComponentState;
  readonly mode: MqttMode;
  /** The hub's own broker: in a thread of its own (`broker`) or in the hub's (`hub`); see mqtt.brokerThread. */
  readonly thread?: 'broker' | 'hub';
}

/**
 * The one thing the hub's components know of MQTT, whichever mode carries it: a connector fed through the
 * FrameHandler given at construction, and the channel commands and the incident feed are published on. The
 * fleet asks it whether a device is reachable and closes a device's connection through it.
 */
export interface MqttTransport extends Connector, CommandChannel {
  readonly name: 'mqtt';
  readonly mode: MqttMode;
  readonly state: ComponentState;
  readonly commands: CommandChannel;
  start(): Promise<void>;
  /** Publishes from the hub itself (commands, the incident feed), at QoS 1. */
  publish(topic: string, payload: string): Promise<void>;
  stop(): Promise<void>;
  health(): MqttHealth;
}

/** The hub's own broker (aedes, in a thread of its own or in the hub's): it holds the connections and listeners. */
export interface OwnMqttBroker extends MqttTransport {
  /** The TCP port it listens on. */
  readonly port: number;
  /** MQTT clients connected to this instance's broker. */
  readonly connectedClients: number;
  /** MQTT over WebSocket on the hub's HTTP server. */
  attachWebSocket(server: HttpServer): void;
  /**
   * Whether a topic has anyone to receive it (erring on yes), so the hub's own publishers (the incident feed)
   * encode nothing nobody can receive.
   */
  hasSubscribers(topic: string): boolean;
  /** MQTTS: new certificate files for new connections. */
  setSecureContext(material: TlsMaterial): void;
}
