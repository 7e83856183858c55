import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  authTransports,
  loginFailureReasons,
  mqttRefusalReasons,
  sessionEndReasons,
  sessionRefusalReasons,
  throttleReasons,
} from '../core/reasons.ts';
import { type RefusalReason, refusalReasons } from '../core/refusals.ts';
import { suppressionReasons } from '../incidents/rule-book.ts';
import {
  type OutboundRefusalReason,
  outboundPurposes,
  outboundRefusalReasons,
} from '../net/outbound-address.ts';

/** Why the broker closed a connection at a limit; labels of `gridhub_mqtt_limit_closes_total`. */
export const mqttLimitReasons = ['connect_too_large', 'packet_too_large', 'connect_timeout'] as const;
export type MqttLimitReason = (typeof mqttLimitReasons)[number];

/**
 * Everything `GET /metrics` shows, in one registry per hub (not prom-client's global one), so several hubs in
 * one process (tests, benchmarks) never share counters.
 */
export class HubMetrics {
  readonly registry = new Registry();

  readonly messagesReceived = new Counter({
    name: 'gridhub_messages_received_total',
    help: 'MQTT messages received on device topics.',
    registers: [this.registry],
  });

  readonly eventsDecoded = new Counter({
    name: 'gridhub_events_decoded_total',
    help: 'Normalized device events decoded from accepted messages.',
    registers: [this.registry],
  });

  readonly messagesAccepted = new Counter({
    name: 'gridhub_messages_accepted_total',
    help: 'Device messages accepted (valid and decoded); with the refused, every message received counts once.',
    registers: [this.registry],
  });

  readonly messagesRefused = new Counter({
    name: 'gridhub_messages_refused_total',
    help: 'Device messages refused, by reason; each one is kept as a dead letter.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly eventsDeduplicated = new Counter({
    name: 'gridhub_events_deduplicated_total',
    help: 'Events of a lasting condition that already has an open incident, so raised nothing new.',
    registers: [this.registry],
  });

  readonly eventsRedelivered = new Counter({
    name: 'gridhub_events_redelivered_total',
    help: 'Device events delivered again (same device, seq and time) after their change was committed: ignored.',
    registers: [this.registry],
  });

  readonly eventsCorrelated = new Counter({
    name: 'gridhub_events_correlated_total',
    help: "Events that joined another device's open incident in the same grid by a correlation rule.",
    registers: [this.registry],
  });

  readonly eventsSuppressed = new Counter({
    name: 'gridhub_events_suppressed_total',
    help: 'Events that raised no incident: their device in maintenance, or a suppression schedule.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly incidentsGrouped = new Counter({
    name: 'gridhub_incidents_grouped_total',
    help: "Events grouped into their grid's alarm-storm incident instead of an incident each (flood control).",
    registers: [this.registry],
  });

  readonly escalations = new Counter({
    name: 'gridhub_escalations_total',
    help: 'Incidents escalated one level up because a deadline passed.',
    registers: [this.registry],
  });

  readonly reworks = new Counter({
    name: 'gridhub_reworks_total',
    help: 'Verifications rejected, sending a case back to its handler.',
    registers: [this.registry],
  });

  readonly incidentsCreated = new Counter({
    name: 'gridhub_incidents_created_total',
    help: 'Incidents created from device events.',
    labelNames: ['severity'] as const,
    registers: [this.registry],
  });

  readonly pushesSent = new Counter({
    name: 'gridhub_pushes_sent_total',
    help: 'Socket.IO messages delivered to connected clients, by event.',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  readonly ingestToPush = new Histogram({
    name: 'gridhub_ingest_to_push_seconds',
    help: 'From a device message reaching the hub to its incident being pushed to clients.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly mqttRefusals = new Counter({
    name: 'gridhub_mqtt_refusals_total',
    help: 'MQTT connections, publishes and subscriptions refused by the broker, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly outboundRefusals = new Counter({
    name: 'gridhub_outbound_refusals_total',
    help: "Connections the hub would have opened on a caller's behalf (camera xaddrs, stream and snapshot URIs, webhook targets) refused by network.outbound, by purpose and reason.",
    labelNames: ['purpose', 'reason'] as const,
    registers: [this.registry],
  });

  readonly mqttLimitCloses = new Counter({
    name: 'gridhub_mqtt_limit_closes_total',
    help: 'MQTT connections closed at a limit, by reason: connect_too_large (a packet before CONNACK over limits.mqtt.connectPacketBytes), packet_too_large (over limits.mqtt.packetBytes), connect_timeout (no CONNECT in time).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'gridhub_auth_failures_total',
    help: 'Failed authentications (a bad token, password or device secret), by transport: rest, socketio, mqtt.',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  readonly authThrottled = new Counter({
    name: 'gridhub_auth_throttled_total',
    help: 'Authentications refused unchecked because their remote address or claimed identity failed too often, by transport and by what was locked (address, identity).',
    labelNames: ['transport', 'reason'] as const,
    registers: [this.registry],
  });

  readonly commands = new Counter({
    name: 'gridhub_commands_total',
    help: 'Device commands sent, by outcome (ok, refused, failed, timeout).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly devicesOnline = new Gauge({
    name: 'gridhub_devices_online',
    help: 'Devices the hub currently considers online.',
    registers: [this.registry],
  });

  /** What gridhub_incidents_active reads when scraped (see countActiveIncidents). */
  #activeIncidents: () => number = () => 0;

  readonly incidentsActive: Gauge = new Gauge({
    name: 'gridhub_incidents_active',
    help: 'Incidents not yet ended (open, or awaiting verification): the backlog, each held in memory.',
    registers: [this.registry],
    collect: (): void => this.incidentsActive.set(this.#activeIncidents()),
  });

  readonly storeFailures = new Counter({
    name: 'gridhub_store_failures_total',
    help: 'Writes the store failed; the device message was not acknowledged.',
    registers: [this.registry],
  });

  readonly connectedDevices = new Gauge({
    name: 'gridhub_connected_devices',
    help: 'MQTT clients connected to the embedded broker.',
    registers: [this.registry],
  });

  readonly pushRecoveries = new Counter({
    name: 'gridhub_push_recoveries_total',
    help: 'Clients that came back after a drop, by outcome: restored (sent what they missed) or a fresh session because the session expired, was unknown, or missed too many pushes to replay.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly pushesKeptForRecovery = new Gauge({
    name: 'gridhub_pushes_kept_for_recovery',
    help: 'Pushes kept for clients that drop to catch up on (superseded ones dropped), as of the last sweep (every 10 s).',
    registers: [this.registry],
  });

  readonly realtimeRefusals = new Counter({
    name: 'gridhub_realtime_refusals_total',
    help: "Socket.IO connections refused or closed, by reason: bad_token (no valid token), not_owner (a restored session that was another user's or another login's), session_ended (the login session was revoked or reached its end).",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly sessionsOpened = new Counter({
    name: 'gridhub_sessions_opened_total',
    help: 'Login sessions opened (a password login, or a JWT issued for an API token).',
    registers: [this.registry],
  });

  readonly sessionsEnded = new Counter({
    name: 'gridhub_sessions_ended_total',
    help: 'Login sessions ended before their time, by reason: logout, user_disabled, user_removed, password_changed.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly sessionRefusals = new Counter({
    name: 'gridhub_session_refusals_total',
    help: "JWTs refused although well signed because their session is not live, by reason: unknown, revoked, expired, not_owner (another user's session).",
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly logins = new Counter({
    name: 'gridhub_logins_total',
    help: 'Successful password logins.',
    registers: [this.registry],
  });

  readonly loginFailures = new Counter({
    name: 'gridhub_login_failures_total',
    help: 'Failed password logins, by reason (the caller is told none apart): unknown_user, wrong_password, no_password (the account has none), disabled, locked (the username is locked out).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly accountLockouts = new Counter({
    name: 'gridhub_account_lockouts_total',
    help: 'Usernames locked after repeated failed logins (hub.loginLockout).',
    registers: [this.registry],
  });

  readonly slowClients = new Counter({
    name: 'gridhub_realtime_slow_clients_total',
    help: 'Socket.IO clients disconnected because pushes waiting for them passed limits.realtime.maxBufferedBytes (they did not read).',
    registers: [this.registry],
  });

  readonly connectedClients = new Gauge({
    name: 'gridhub_connected_clients',
    help: 'Socket.IO clients connected.',
    registers: [this.registry],
  });

  // The network edge (#18): TLS and the HTTP edge's own refusals.
  readonly tlsReloads = new Counter({
    name: 'gridhub_tls_reloads_total',
    help: 'Certificate files loaded again after they changed, by result (ok, or failed: the old ones kept).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly tlsCertificateExpiry = new Gauge({
    name: 'gridhub_tls_certificate_expiry_timestamp_seconds',
    help: "When the hub's certificate in use expires (Unix time).",
    registers: [this.registry],
  });

  readonly tlsHandshakeFailures = new Counter({
    name: 'gridhub_tls_handshake_failures_total',
    help: 'TLS handshakes that failed (plain text on a TLS port, no shared cipher, a bad certificate), by listener.',
    labelNames: ['listener'] as const,
    registers: [this.registry],
  });

  readonly httpRefusals = new Counter({
    name: 'gridhub_http_refusals_total',
    help: 'HTTP requests the edge refused before any route, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    // Every reason shows from the start, at zero, so a dashboard can tell "none" from "not reported".
    for (const reason of Object.keys(refusalReasons) as RefusalReason[])
      this.messagesRefused.labels(reason).inc(0);
    for (const reason of mqttRefusalReasons) this.mqttRefusals.labels(reason).inc(0);
    for (const reason of suppressionReasons) this.eventsSuppressed.labels(reason).inc(0);
    for (const purpose of outboundPurposes)
      for (const reason of Object.keys(outboundRefusalReasons) as OutboundRefusalReason[])
        this.outboundRefusals.labels(purpose, reason).inc(0);
    for (const reason of loginFailureReasons) this.loginFailures.labels(reason).inc(0);
    for (const reason of sessionEndReasons) this.sessionsEnded.labels(reason).inc(0);
    for (const reason of sessionRefusalReasons) this.sessionRefusals.labels(reason).inc(0);
    for (const reason of ['bad_token', 'not_owner', 'session_ended'])
      this.realtimeRefusals.labels(reason).inc(0);
    for (const reason of mqttLimitReasons) this.mqttLimitCloses.labels(reason).inc(0);
    for (const transport of authTransports) {
      this.authFailures.labels(transport).inc(0);
      for (const reason of throttleReasons) this.authThrottled.labels(transport, reason).inc(0);
    }
  }

  /** The incidents not yet ended are counted where they are held, and read at each scrape, not on every change. */
  countActiveIncidents(count: () => number): void {
    this.#activeIncidents = count;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
