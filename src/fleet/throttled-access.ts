import { boundedIdentity, type GuessLimiter } from '../auth/guess-limiter.ts';
import type { Principal } from '../core/principal.ts';
import type { ClientCertificateCheck } from '../security/tls-credentials.ts';
import type { AccessDecision, MqttAccessPolicy, MqttRefusalReason } from './access-policy.ts';

/** A decision of the policy, or a refusal unchecked: the address or the identity failed too often. */
export type ThrottledDecision =
  | AccessDecision
  | { readonly allowed: false; readonly reason: 'throttled'; readonly user?: Principal };

/**
 * The MQTT access policy behind the limits on guessing (GuessLimiter): a CONNECT from an address, or claiming a
 * username, that failed too often is refused without checking it (CONNACK 3, and the connection closed), and each
 * failed CONNECT counts towards that. A disabled device's CONNECT had the right secret: it is no guess, and counts
 * for nothing. Everything after authentication is the policy's alone.
 */
export class ThrottledMqttAccess {
  readonly #policy: MqttAccessPolicy;
  readonly #limiter: GuessLimiter;

  constructor(policy: MqttAccessPolicy, limiter: GuessLimiter) {
    this.#policy = policy;
    this.#limiter = limiter;
  }

  /** The broker in the hub's thread (clustered): authenticates and keeps a user's grant with the connection. */
  authenticate(
    connection: object,
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    address: string | undefined,
    certificate?: ClientCertificateCheck,
  ): ThrottledDecision {
    return this.#limited(username, address, () =>
      this.#policy.authenticate(connection, clientId, username, password, certificate),
    );
  }

  /** The broker thread's question: who a client is (the thread keeps the grant). */
  identify(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
    address: string | undefined,
    certificate?: ClientCertificateCheck,
  ): ThrottledDecision {
    return this.#limited(username, address, () =>
      this.#policy.identify(clientId, username, password, certificate),
    );
  }

  mayPublish(connection: object, clientId: string, topic: string): AccessDecision {
    return this.#policy.mayPublish(connection, clientId, topic);
  }

  maySubscribe(connection: object, clientId: string, topic: string): AccessDecision {
    return this.#policy.maySubscribe(connection, clientId, topic);
  }

  mayForward(connection: object, topic: string, payload: Buffer): boolean {
    return this.#policy.mayForward(connection, topic, payload);
  }

  refused(reason: MqttRefusalReason, clientId: string, topic?: string): AccessDecision {
    return this.#policy.refused(reason, clientId, topic);
  }

  #limited(
    username: string | undefined,
    address: string | undefined,
    decide: () => AccessDecision,
  ): ThrottledDecision {
    const identity = boundedIdentity(username);
    if (this.#limiter.refuse('mqtt', address, identity) !== undefined) {
      return { allowed: false, reason: 'throttled' };
    }
    const decision = decide();
    if (decision.allowed) this.#limiter.succeeded(address, identity);
    else if (decision.reason !== 'disabled') this.#limiter.failed('mqtt', address, identity);
    return decision;
  }
}
