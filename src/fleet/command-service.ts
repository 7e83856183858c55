import type { Counter } from 'prom-client';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { CommandReply } from '../core/adapter.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { TypedBus } from '../core/bus.ts';
import { GridhubError, refused } from '../core/errors.ts';
import type { HubBusEvents } from '../core/events.ts';
import { timeOrderedId } from '../core/ids.ts';
import { chainInScope } from '../core/jurisdiction.ts';
import type { Principal, Role } from '../core/principal.ts';
import { zodProblems } from '../core/problems.ts';
import type { TopicGrammar } from '../core/topics.ts';
import type { MetricsRegistry } from '../observability/metrics-registry.ts';
import type { DeviceRegistry } from './device-registry.ts';
import { fleetMetrics } from './fleet-metrics.ts';

/** Who may command devices in their scope. Grid workers report; they do not unlock doors or disarm panels. */
const commandingRoles: readonly Role[] = ['duty_officer', 'integrator', 'admin'];

export interface CommandResult {
  readonly requestId: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly result?: CommandReply['result'];
}

export interface CommandTransport {
  /**
   * `timeoutMs`: how long the caller waits for the reply. A transport that holds commands until the device collects
   * them (ADMS) drops one whose time is up, so a door never opens after its command was reported timed out.
   */
  publish(topic: string, payload: string, timeoutMs?: number): Promise<void>;
  /** Asynchronous where the answer is in Redis (a device connected to a sibling instance). */
  isConnected(deviceId: string): boolean | Promise<boolean>;
}

export interface CommandServiceOptions {
  readonly registry: DeviceRegistry;
  readonly transport: CommandTransport;
  readonly topics: TopicGrammar;
  readonly audit: AuditTrail;
  readonly bus: TypedBus<HubBusEvents>;
  readonly metrics: MetricsRegistry;
  readonly timeoutMs: number;
}

interface Pending {
  readonly deviceId: string;
  readonly settle: (reply: CommandReply | undefined) => void;
}

/**
 * The command round trip: an authorized caller → the adapter's encoding on the device's commands topic → the
 * device's reply on its replies topic, matched by request id → the result to the caller; or a timeout when the
 * device does not answer. Every attempt is audited, refusals included: who, what, when, and how it ended.
 */
export class CommandService {
  readonly #options: CommandServiceOptions;
  readonly #pending = new Map<string, Pending>();
  #unsubscribe: (() => void) | undefined;
  readonly #commands: Counter<'outcome'>;

  constructor(options: CommandServiceOptions) {
    this.#options = options;
    this.#commands = fleetMetrics(options.metrics).commands;
  }

  start(): void {
    this.#unsubscribe = this.#options.bus.on('command:reply', this.#onReply);
  }

  stop(): void {
    this.#unsubscribe?.();
    for (const pending of this.#pending.values()) pending.settle(undefined);
    this.#pending.clear();
  }

  async send(
    principal: Principal,
    deviceId: string,
    command: string,
    params: unknown,
    timeoutMs = this.#options.timeoutMs,
  ): Promise<CommandResult> {
    const { registry, transport, topics } = this.#options;
    const device = registry.get(deviceId);
    // A device outside the caller's scope does not exist for them.
    if (device === undefined || !chainInScope(device.grid.chain, principal.scopeNodeIds)) {
      throw refused('not_found', `no device ${deviceId}`);
    }
    const requestId = timeOrderedId('cmd');
    const audit = (outcome: AuditEntry['outcome'], detail: Record<string, unknown>, message?: string) =>
      this.#audit(principal, deviceId, command, outcome, { requestId, ...detail }, message);

    if (!commandingRoles.includes(principal.role)) {
      await audit('refused', {}, 'role may not command devices');
      throw refused('forbidden', `a ${principal.role} may not command devices`);
    }
    const definition = device.adapter.commands[command];
    if (definition === undefined) {
      await audit('refused', {}, 'unknown command');
      const known = Object.keys(device.adapter.commands).join(', ') || 'none';
      throw refused('invalid', `${device.adapter.id} devices have no command "${command}" (known: ${known})`);
    }
    const parsed = definition.params.safeParse(params ?? {});
    if (!parsed.success) {
      const problems = zodProblems(parsed.error, 'params');
      await audit('refused', {}, 'invalid parameters');
      throw refused('invalid', 'invalid command parameters', problems);
    }
    if (!(await transport.isConnected(deviceId))) {
      await audit('refused', { params: parsed.data }, 'device offline');
      throw new GridhubError('device_offline', `device ${deviceId} is not connected`);
    }

    const reply = new Promise<CommandReply | undefined>((resolve) => {
      const timer = setTimeout(() => settle(undefined), timeoutMs);
      const settle = (value: CommandReply | undefined): void => {
        clearTimeout(timer);
        this.#pending.delete(requestId);
        resolve(value);
      };
      this.#pending.set(requestId, { deviceId, settle });
    });
    await transport.publish(
      topics.deviceTopic(deviceId, 'commands'),
      JSON.stringify(definition.encode(parsed.data, requestId)),
      timeoutMs,
    );
    const answer = await reply;
    if (answer === undefined) {
      await audit('timeout', { params: parsed.data, timeoutMs }, 'no reply from the device');
      throw new GridhubError('device_timeout', `device ${deviceId} did not answer within ${timeoutMs} ms`);
    }
    const result: CommandResult = {
      requestId,
      ok: answer.ok,
      ...(answer.error === undefined ? {} : { error: answer.error }),
      ...(answer.result === undefined ? {} : { result: answer.result }),
    };
    await audit(
      answer.ok ? 'ok' : 'failed',
      { params: parsed.data, ...(answer.result ? { result: answer.result } : {}) },
      answer.error,
    );
    return result;
  }

  readonly #onReply = (deviceId: string, reply: CommandReply): void => {
    const pending = this.#pending.get(reply.requestId);
    // A reply to another device's request id is ignored: a device can only answer its own commands.
    if (pending === undefined || pending.deviceId !== deviceId) return;
    pending.settle(reply);
  };

  async #audit(
    principal: Principal,
    deviceId: string,
    command: string,
    outcome: AuditEntry['outcome'],
    detail: Record<string, unknown>,
    message?: string,
  ): Promise<void> {
    this.#commands.labels(outcome).inc();
    await this.#options.audit.record(principal, {
      action: `command.${command}`,
      target: { kind: 'device', id: deviceId },
      outcome,
      detail,
      ...(message === undefined ? {} : { message }),
    });
  }
}
