import type { Counter } from 'prom-client';
import type { TokenAuthenticator } from '../auth/token-authenticator.ts';
import type { Incident } from '../core/incident.ts';
import type { Principal } from '../core/principal.ts';
import type { MqttRefusalReason } from '../core/reasons.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { Logger } from '../observability/logger.ts';
import { LogThrottle } from '../observability/logger.ts';
import type { ClientCertificateCheck } from '../security/tls-credentials.ts';
import type { DeviceRegistry } from './device-registry.ts';

// The list of reasons is in core, where the metrics registry reads it.
export type { MqttRefusalReason } from '../core/reasons.ts';

/** The channels a device may publish on: its own, and only these. */
const publishableChannels: ReadonlySet<string> = new Set(['events', 'heartbeat', 'replies', 'status']);

export interface AccessDecision {
  readonly allowed: boolean;
  readonly reason?: MqttRefusalReason;
  /** Authenticated as this user (the incident feed), not as a device. */
  readonly user?: Principal;
}

const allowed: AccessDecision = { allowed: true };

/** Whether a user may see an incident: the rule the API and Socket.IO apply too, given by the hub. */
export type IncidentVisibility = (user: Principal, incident: Incident) => boolean;

/** Of an incident feed message (core/feed-message.ts), what the policy reads: the incident as it is now. */
interface FeedIncident {
  readonly after: Incident;
}

/**
 * What a connected client may do, from who it is alone (a device, or the user it authenticated as): the rules the
 * policy applies, and a broker thread applies to the connections it holds without asking the hub's thread for each
 * message.
 */
export class ClientRights {
  readonly #topics: TopicGrammar;
  readonly #feedTopic: string;
  readonly #canSee: IncidentVisibility;

  constructor(topics: TopicGrammar, feedTopic: string, canSee: IncidentVisibility) {
    this.#topics = topics;
    this.#feedTopic = feedTopic;
    this.#canSee = canSee;
  }

  /** A device under its own topics, on its channels; a user nothing. */
  mayPublish(clientId: string, user: Principal | undefined, topic: string): boolean {
    if (user !== undefined) return false;
    const address = this.#topics.parseDeviceTopic(topic);
    return address?.deviceId === clientId && publishableChannels.has(address.channel);
  }

  /** A device its own commands topic; a user the incident feed. */
  maySubscribe(clientId: string, user: Principal | undefined, topic: string): boolean {
    return topic === (user === undefined ? this.#topics.deviceTopic(clientId, 'commands') : this.#feedTopic);
  }

  /**
   * Whether a message goes to this subscriber: a device its commands; a user the incidents they may see. The feed
   * goes to users only: a client not known as one (whatever it subscribed to before) is sent none of it.
   */
  mayForward(user: Principal | undefined, topic: string, payload: Buffer): boolean {
    if (topic !== this.#feedTopic) return user === undefined;
    if (user === undefined) return false;
    try {
      const message = JSON.parse(payload.toString('utf8')) as FeedIncident;
      return this.#canSee(user, message.after);
    } catch {
      return false;
    }
  }
}

export interface MqttAccessOptions {
  readonly registry: DeviceRegistry;
  readonly topics: TopicGrammar;
  readonly authenticator: TokenAuthenticator;
  /** Which incidents a user is forwarded on the feed. */
  readonly canSee: IncidentVisibility;
  /** The incident feed's topic, the one topic users may subscribe to. */
  readonly feedTopic: string;
  /** gridhub_mqtt_refusals_total (fleetMetrics): its counter, as this module is loaded in the broker thread too. */
  readonly refusals: Counter<'reason'>;
  readonly logger: Logger;
}

/**
 * Who may do what on the embedded broker.
 *
 * - A device connects with client id = username = its id and its own secret; it may publish only under its own
 *   topics, on its channels, and subscribe only to its own commands topic.
 * - A user connects with username = client id = their user id and their API token as the password (ids are
 *   unique across users and devices); they may subscribe to the incident feed only and publish nothing, and each
 *   incident is forwarded to them only if they may see it.
 *
 * Every refusal is counted by reason and logged (throttled), with the client id and never the secret.
 */
export class MqttAccessPolicy {
  readonly #options: MqttAccessOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #rights: ClientRights;
  /** Users' connections (aedes' client objects): each its own grant, gone with it. */
  readonly #users = new WeakMap<object, Principal>();

  constructor(options: MqttAccessOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'mqtt-access' });
    this.#rights = new ClientRights(options.topics, options.feedTopic, options.canSee);
  }

  /** Authenticates the connection, and keeps a user's grant with it for the checks that follow. */
  authenticate(
    connection: object,
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    certificate?: ClientCertificateCheck,
  ): AccessDecision {
    const decision = this.identify(clientId, username, password, certificate);
    if (decision.user !== undefined) this.#users.set(connection, decision.user);
    return decision;
  }

  /**
   * Who a client is: a device (username = client id, its own secret) or a user (their API token), or refused. Keeps
   * nothing: a broker thread keeps the grant with its own connection.
   */
  identify(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    certificate?: ClientCertificateCheck,
  ): AccessDecision {
    // A client certificate binds the connection to the ids it names, before any credential is looked at.
    if (certificate === 'invalid') return this.refused('certificate_invalid', clientId);
    if (typeof certificate === 'object' && !certificate.ids.includes(clientId)) {
      return this.refused('certificate_mismatch', clientId);
    }
    if (username !== undefined && this.#options.registry.get(username) === undefined) {
      return this.#identifyUser(clientId, username, password);
    }
    // Devices must present certificates, and this connection (MQTT over WebSocket) has none to present.
    if (certificate === 'absent') return this.refused('certificate_invalid', clientId);
    // [MQTT-3.1.3-8] the server may refuse a client id; a device's must be its own id, as the username.
    if (username === undefined || username !== clientId) return this.refused('client_id_mismatch', clientId);
    const check = this.#options.registry.checkCredentials(username, password);
    return check === 'ok' ? allowed : this.refused(check, clientId);
  }

  mayPublish(connection: object, clientId: string, topic: string): AccessDecision {
    if (this.#rights.mayPublish(clientId, this.#users.get(connection), topic)) return allowed;
    return this.refused('publish_denied', clientId, topic);
  }

  maySubscribe(connection: object, clientId: string, topic: string): AccessDecision {
    if (this.#rights.maySubscribe(clientId, this.#users.get(connection), topic)) return allowed;
    return this.refused('subscribe_denied', clientId, topic);
  }

  /** Whether a message goes to this subscriber: incidents only to users who may see them. */
  mayForward(connection: object, topic: string, payload: Buffer): boolean {
    return this.#rights.mayForward(this.#users.get(connection), topic, payload);
  }

  #identifyUser(clientId: string, username: string, password: Buffer | undefined): AccessDecision {
    const principal = this.#options.authenticator.authenticateApiToken(password?.toString('utf8'));
    if (principal === undefined) return this.refused('unknown_device', clientId);
    if (principal.userId !== username) return this.refused('bad_credentials', clientId);
    // [MQTT-3.1.3-8] A user's client id is their user id, exactly: one sharing a prefix may be another user's or a
    // device's id, and taking it would take over that session (the broker closes the one holding a client id).
    if (clientId !== username) return this.refused('client_id_mismatch', clientId);
    return { allowed: true, user: principal };
  }

  /** Counts and logs (throttled) a refusal, this policy's own or a broker thread's. */
  refused(reason: MqttRefusalReason, clientId: string, topic?: string): AccessDecision {
    this.#options.refusals.labels(reason).inc();
    const suppressed = this.#throttle.admit(`${clientId}:${reason}`);
    if (suppressed >= 0) this.#log.warn({ clientId, reason, topic, suppressed }, 'mqtt client refused');
    return { allowed: false, reason };
  }
}
