import type { AuditTrail } from '../audit/audit-trail.ts';
import { films } from '../core/adapter.ts';
import type { AuditEntry } from '../core/audit.ts';
import type { TypedBus } from '../core/bus.ts';
import type { DeviceDescription } from '../core/device.ts';
import type { DeviceStatus } from '../core/device-status.ts';
import { refused } from '../core/errors.ts';
import type { HubBusEvents } from '../core/events.ts';
import { chainInScope } from '../core/jurisdiction.ts';
import type { Principal, Role } from '../core/principal.ts';
import type { CommandResult, CommandService } from './command-service.ts';
import type { DeviceRegistry, RegisteredDevice } from './device-registry.ts';
import type { LivenessMonitor } from './liveness-monitor.ts';

/** Who provisions devices: the integrators who install them, and admins. */
export const provisioningRoles: readonly Role[] = ['integrator', 'admin'];

/** A device as the API shows it: what it is, where it is, whether it is online. Never its secret. */
export interface DeviceView {
  readonly id: string;
  readonly name: string;
  readonly adapter: string;
  readonly gridId: string;
  readonly chain: RegisteredDevice['grid']['chain'];
  readonly location: readonly [number, number] | null;
  readonly source: RegisteredDevice['source'];
  readonly commands: readonly string[];
  readonly offlineAfterSeconds: number;
  readonly status: DeviceStatus;
  /** ISO 8601: the device is in maintenance until then (its events raise no incident); null when it is not. */
  readonly maintenanceUntil: string | null;
  /** GB/T 28181: the device's national code (国标编码), when it has one. */
  readonly nationalCode?: string;
  /** A GB/T 28181 channel: the device (an NVR) it belongs to. */
  readonly parentId?: string;
}

/** The longest maintenance one request sets: a week. */
export const maxMaintenanceMinutes = 7 * 24 * 60;

export interface FleetOptions {
  readonly registry: DeviceRegistry;
  readonly liveness: LivenessMonitor;
  readonly commands: CommandService;
  readonly audit: AuditTrail;
  readonly bus: TypedBus<HubBusEvents>;
  /** Ends a device's MQTT session, so a disabled device or a rotated secret takes effect at once. */
  readonly disconnect: (deviceId: string) => void;
}

/**
 * The fleet as users see it through the API and the command line: devices in their scope, their status,
 * provisioning (add, rotate credentials, disable, enable) and commands. Every change is audited.
 */
export class Fleet {
  readonly #options: FleetOptions;

  constructor(options: FleetOptions) {
    this.#options = options;
  }

  list(principal: Principal): DeviceView[] {
    return [...this.#options.registry.all]
      .filter((device) => chainInScope(device.grid.chain, principal.scopeNodeIds))
      .map((device) => this.#view(device));
  }

  get(principal: Principal, deviceId: string): DeviceView {
    return this.#view(this.#visible(principal, deviceId));
  }

  async provision(
    principal: Principal,
    description: DeviceDescription,
  ): Promise<{ device: DeviceView; secret: string }> {
    this.#mayProvision(principal);
    try {
      const watchProblems = this.#watchProblems(principal, description);
      if (watchProblems.length > 0) throw refused('invalid', 'invalid device', watchProblems);
      const { device, secret } = await this.#options.registry.provision(description, (candidate) =>
        chainInScope(candidate.grid.chain, principal.scopeNodeIds)
          ? undefined
          : `grid ${candidate.grid.ref.id} is outside your scope`,
      );
      await this.#audit(principal, 'device.provision', device.id, 'ok', {
        adapter: device.adapter.id,
        gridId: device.grid.ref.id,
      });
      this.#options.bus.emit('device:changed', device.id);
      return { device: this.#view(device), secret };
    } catch (error) {
      await this.#audit(
        principal,
        'device.provision',
        description.id,
        'refused',
        {},
        (error as Error).message,
      );
      throw error;
    }
  }

  async rotate(principal: Principal, deviceId: string): Promise<{ device: DeviceView; secret: string }> {
    this.#mayProvision(principal);
    this.#visible(principal, deviceId);
    const { device, secret } = await this.#options.registry.rotate(deviceId);
    this.#options.disconnect(deviceId);
    await this.#audit(principal, 'device.rotate', deviceId, 'ok', {});
    return { device: this.#view(device), secret };
  }

  async setDisabled(principal: Principal, deviceId: string, disabled: boolean): Promise<DeviceView> {
    this.#mayProvision(principal);
    this.#visible(principal, deviceId);
    const device = await this.#options.registry.setDisabled(deviceId, disabled);
    if (disabled) this.#options.disconnect(deviceId);
    this.#options.bus.emit('device:changed', deviceId);
    await this.#audit(principal, disabled ? 'device.disable' : 'device.enable', deviceId, 'ok', {});
    const view = this.#view(device);
    this.#options.bus.emit('device:status', view.status);
    return view;
  }

  /**
   * Puts a device in maintenance until the given time (its events, device.offline included, raise no incident),
   * or ends its maintenance (null). For the integrators and admins whose scope holds the device.
   */
  async setMaintenance(principal: Principal, deviceId: string, until: Date | null): Promise<DeviceView> {
    this.#mayProvision(principal);
    this.#visible(principal, deviceId);
    const now = Date.now();
    if (
      until !== null &&
      (until.getTime() <= now || until.getTime() > now + maxMaintenanceMinutes * 60_000)
    ) {
      const problem = `until must lie in the next ${maxMaintenanceMinutes} minutes`;
      await this.#audit(principal, 'device.maintenance', deviceId, 'refused', {}, problem);
      throw refused('invalid', 'invalid maintenance window', [problem]);
    }
    const device = await this.#options.registry.setMaintenance(deviceId, until?.toISOString() ?? null);
    await this.#audit(principal, 'device.maintenance', deviceId, 'ok', { until: device.maintenanceUntil });
    return this.#view(device);
  }

  command(
    principal: Principal,
    deviceId: string,
    command: string,
    params: unknown,
    timeoutMs?: number,
  ): Promise<CommandResult> {
    return this.#options.commands.send(principal, deviceId, command, params, timeoutMs);
  }

  /**
   * A camera's `watches` and `presets` name devices whose incidents get its snapshots and whose alarms turn it: each
   * must be a device the caller may see (one they may not see is named as missing, as everywhere else, so its
   * existence is not disclosed), each preset must be for a device the camera watches, and only cameras watch.
   */
  #watchProblems(principal: Principal, description: DeviceDescription): string[] {
    const { watches, presets } = description;
    if (watches === undefined && presets === undefined) return [];
    const problems: string[] = [];
    const adapter = this.#options.registry.adapter(description.adapter);
    if (presets !== undefined && adapter?.transport !== 'onvif') {
      problems.push('device: presets are for ONVIF cameras only');
    }
    if (watches !== undefined && !films(adapter, description)) {
      problems.push(
        'device: watches are for cameras only (ONVIF, an adapter with httpMedia, or gb28181.rtsp)',
      );
    }
    const seen = new Set<string>();
    (watches ?? []).forEach((watched, index) => {
      const device = this.#options.registry.get(watched);
      if (watched === description.id)
        problems.push(`device.watches[${index}]: a camera does not watch itself`);
      else if (device === undefined || !chainInScope(device.grid.chain, principal.scopeNodeIds))
        problems.push(`device.watches[${index}]: no device "${watched}" in your scope`);
      else if (seen.has(watched))
        problems.push(`device.watches[${index}]: "${watched}" is listed more than once`);
      seen.add(watched);
    });
    for (const watched of Object.keys(presets ?? {})) {
      if (!watches?.includes(watched))
        problems.push(`device.presets.${watched}: a preset is for a device the camera watches`);
    }
    return problems;
  }

  #mayProvision(principal: Principal): void {
    if (!provisioningRoles.includes(principal.role)) {
      throw refused('forbidden', `a ${principal.role} may not provision devices`);
    }
  }

  /** The device, if the caller may see it; otherwise it does not exist for them. */
  #visible(principal: Principal, deviceId: string): RegisteredDevice {
    const device = this.#options.registry.get(deviceId);
    if (device === undefined || !chainInScope(device.grid.chain, principal.scopeNodeIds)) {
      throw refused('not_found', `no device ${deviceId}`);
    }
    return device;
  }

  #view(device: RegisteredDevice): DeviceView {
    return {
      id: device.id,
      name: device.name,
      adapter: device.adapter.id,
      gridId: device.grid.ref.id,
      chain: device.grid.chain,
      location: device.location ?? null,
      source: device.source,
      commands: Object.keys(device.adapter.commands),
      offlineAfterSeconds: device.offlineAfterMs / 1000,
      status: this.#options.liveness.status(device.id) as DeviceStatus,
      maintenanceUntil: this.#options.registry.inMaintenance(device.id) ? device.maintenanceUntil : null,
      ...(device.gb28181 === undefined ? {} : { nationalCode: device.gb28181.id }),
      ...(device.gb28181?.parent === undefined ? {} : { parentId: device.gb28181.parent }),
    };
  }

  #audit(
    principal: Principal,
    action: string,
    deviceId: string,
    outcome: AuditEntry['outcome'],
    detail: Record<string, unknown>,
    message?: string,
  ): Promise<void> {
    return this.#options.audit.record(principal, {
      action,
      target: { kind: 'device', id: deviceId },
      outcome,
      detail,
      ...(message === undefined ? {} : { message }),
    });
  }
}
