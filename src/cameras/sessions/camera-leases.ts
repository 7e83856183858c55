import type { Gauge } from 'prom-client';
import type { RedisCoordinator } from '../../cluster/redis-coordinator.ts';
import { isDialled } from '../../core/adapter.ts';
import type { DeviceRegistry } from '../../fleet/device-registry.ts';
import { type Logger, LogThrottle } from '../../observability/logger.ts';
import { declareMetrics, type MetricsRegistry } from '../../observability/metrics-registry.ts';

/** What a camera's holder tells its siblings of the camera's session, so they can show it and fetch evidence. */
export interface SharedCameraView {
  readonly instance: string;
  readonly state: string;
  readonly information: unknown;
  /** Raw URIs, credentials included when the camera puts them there: Redis is inside the deployment's trust. */
  readonly streamUri: string | null;
  readonly snapshotUri: string | null;
}

/** What the leases drive: a connector that dials devices (ONVIF sessions, Dahua and Hikvision streams). */
export interface LeaseFollower {
  /** Starts or stops what it runs for the device to match whether this instance holds it now. */
  refollow(deviceId: string): void;
}

/** The side of the ONVIF sessions that the leases read, to share with the siblings. */
export interface LeasedViews {
  /** The camera's session here, when this instance runs one. */
  localView(cameraId: string): Omit<SharedCameraView, 'instance'> | undefined;
}

/** The ONVIF sessions are both: driven by the leases, and read for the views shared. */
export interface LeasedSessions extends LeaseFollower, LeasedViews {}

/** What the leases are attached to: every connector following the leased devices, and where views come from. */
export interface LeaseAttachment {
  /** Each one told of every lease taken or let go; a device's transport decides which one acts on it. */
  readonly followers: readonly LeaseFollower[];
  readonly views: LeasedViews;
}

/** Which cameras this instance runs sessions for, and what it knows of the others'. */
export interface CameraPartition {
  holds(cameraId: string): boolean;
  /** The camera's session as its holder last described it, when another instance holds it. */
  remoteView(cameraId: string): SharedCameraView | undefined;
}

export interface CameraLeasesOptions {
  readonly coordinator: RedisCoordinator;
  readonly registry: DeviceRegistry;
  /** How long a lease lasts without renewal; renewals come every third of it. */
  readonly leaseMs: number;
  readonly metrics: MetricsRegistry;
  readonly logger: Logger;
}

/** FNV-1a: a cheap, stable spread of where each instance starts looking for free cameras. */
function spread(text: string): number {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** What the leases count, declared here so that they move with the leases. */
const leaseMetrics = declareMetrics((metrics) => ({
  held: metrics.gauge({
    name: 'gridhub_camera_leases_held',
    help: 'Cameras whose ONVIF session this instance runs (it holds their lease).',
  }),
}));

/**
 * Cameras partitioned among hub instances by leases in Redis: each camera's ONVIF session (each dialled device's
 * event stream: `dialledTransports`) runs on exactly one instance, the holder of its lease. Every third of a lease the instance renews what it holds, says it is alive, and
 * takes free cameras up to its fair share (cameras ÷ live instances, rounded up); above its share (a sibling joined)
 * it gives one back per round, so the load evens out without every camera moving at once. When an instance dies its
 * leases lapse after `leaseMs` and its siblings take them at their next round: a camera is unwatched for at most
 * about `leaseMs × 4/3`. A Redis outage leaves the sessions running as they are (nobody can take a lease meanwhile);
 * a lease found lapsed afterwards is taken again at once when still free.
 */
export class CameraLeases implements CameraPartition {
  readonly #options: CameraLeasesOptions;
  readonly #log: Logger;
  readonly #throttle = new LogThrottle();
  readonly #held = new Set<string>();
  #remote = new Map<string, SharedCameraView>();
  readonly #heldGauge: Gauge;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #running = false;
  #attachment: LeaseAttachment | undefined;

  constructor(options: CameraLeasesOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'leases' });
    this.#heldGauge = leaseMetrics(options.metrics).held;
  }

  /**
   * The connectors that follow the leased devices, which are built with these leases as their partition: attached
   * once they all exist, before `start`.
   */
  attach(attachment: LeaseAttachment): void {
    this.#attachment = attachment;
  }

  #attached(): LeaseAttachment {
    if (this.#attachment === undefined)
      throw new Error('camera leases used before their followers were attached');
    return this.#attachment;
  }

  /** Tells every follower that this instance took or let go of the device. */
  #refollow(deviceId: string): void {
    for (const follower of this.#attached().followers) follower.refollow(deviceId);
  }

  holds(cameraId: string): boolean {
    return this.#held.has(cameraId);
  }

  remoteView(cameraId: string): SharedCameraView | undefined {
    return this.#held.has(cameraId) ? undefined : this.#remote.get(cameraId);
  }

  /** Cameras held here, for /healthz and tests. */
  get held(): readonly string[] {
    return [...this.#held].sort();
  }

  /** Runs the first round at once (so a lone instance starts its cameras without delay), then every third of a lease. */
  async start(): Promise<void> {
    this.#attached(); // a hub that never attached its followers fails here, not in a round
    this.#running = true;
    await this.#runRound();
    this.#timer = setInterval(() => void this.#runRound(), Math.max(200, this.#options.leaseMs / 3));
    this.#timer.unref();
  }

  /** Gives every lease back, so siblings take the cameras at their next round instead of after a lapse. */
  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#round;
    const held = [...this.#held];
    this.#held.clear();
    for (const cameraId of held) this.#refollow(cameraId);
    this.#heldGauge.set(0);
    await this.#options.coordinator.release(held.map(leaseKey)).catch(() => undefined);
  }

  /** One round at a time: a slow Redis must not stack rounds. */
  #runRound(): Promise<void> {
    if (this.#round !== undefined) return this.#round;
    this.#round = this.#roundOnce()
      .catch((error: unknown) => {
        const suppressed = this.#throttle.admit('round');
        if (suppressed >= 0)
          this.#log.warn(
            { error: (error as Error).message, suppressed },
            'camera lease round failed; sessions kept as they are',
          );
      })
      .finally(() => {
        this.#round = undefined;
      });
    return this.#round;
  }

  async #roundOnce(): Promise<void> {
    const { coordinator, registry, leaseMs } = this.#options;
    const members = await coordinator.heartbeat(leaseMs);
    const cameras = [...registry.all]
      .filter((device) => isDialled(device) && !device.disabled)
      .map((device) => device.id)
      .sort();
    const current = new Set(cameras);

    // Renew; a lease found lapsed is taken again at once when it is still free (Redis restarted, say).
    const lapsed = await coordinator.renew([...this.#held].map(leaseKey), leaseMs);
    for (const key of lapsed) {
      const cameraId = cameraOf(key);
      if (this.#running && (await coordinator.acquire(key, leaseMs))) continue;
      this.#log.warn({ cameraId }, 'camera lease lost to another instance');
      this.#let(cameraId);
    }
    // Cameras removed or disabled since.
    const gone = [...this.#held].filter((cameraId) => !current.has(cameraId));
    for (const cameraId of gone) this.#let(cameraId);
    if (gone.length > 0) await coordinator.release(gone.map(leaseKey));

    const share = Math.ceil(cameras.length / members);
    if (this.#running && this.#held.size > share) {
      // One per round: the sibling that joined takes it at its next round.
      const surplus = [...this.#held].sort().at(-1) as string;
      this.#let(surplus);
      await coordinator.release([leaseKey(surplus)]);
      this.#log.info({ cameraId: surplus, members, share }, 'camera handed over to balance the instances');
    } else if (this.#running && this.#held.size < share) {
      const unheld = cameras.filter((cameraId) => !this.#held.has(cameraId));
      const holders = await coordinator.holders(unheld.map(leaseKey));
      const free = unheld.filter((_, index) => holders[index] === undefined);
      const offset = free.length === 0 ? 0 : spread(coordinator.instanceId) % free.length;
      for (const cameraId of [...free.slice(offset), ...free.slice(0, offset)]) {
        if (this.#held.size >= share || !this.#running) break;
        if (await coordinator.acquire(leaseKey(cameraId), leaseMs)) {
          this.#held.add(cameraId);
          this.#refollow(cameraId);
          this.#log.info({ cameraId }, 'camera lease taken');
        }
      }
    }
    this.#heldGauge.set(this.#held.size);
    await this.#shareViews();
  }

  /** Writes what this instance's sessions know, and reads what the siblings' know. */
  async #shareViews(): Promise<void> {
    const { coordinator } = this.#options;
    const sessions = this.#attached().views;
    const views = new Map<string, string>();
    for (const cameraId of this.#held) {
      const view = sessions.localView(cameraId);
      if (view === undefined) continue;
      const shared: SharedCameraView = { ...view, instance: coordinator.instanceId };
      views.set(cameraId, JSON.stringify(shared));
    }
    await coordinator.writeTable('camera-views', views);
    const remote = new Map<string, SharedCameraView>();
    for (const [cameraId, json] of await coordinator.readTable('camera-views')) {
      try {
        remote.set(cameraId, JSON.parse(json) as SharedCameraView);
      } catch {
        // A view written by an older version: skipped, its holder rewrites it within a round.
      }
    }
    this.#remote = remote;
  }

  #let(cameraId: string): void {
    if (!this.#held.delete(cameraId)) return;
    this.#refollow(cameraId);
  }
}

function leaseKey(cameraId: string): string {
  return `camera:${cameraId}`;
}

function cameraOf(key: string): string {
  return key.slice('camera:'.length);
}
