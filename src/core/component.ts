/** Where a component of the hub stands, as /healthz, /readyz and the metrics report it. */
export type ComponentState = 'starting' | 'up' | 'down';

/** What a component shows of itself on /healthz: its state and what else it tells (its port, mode, sessions). */
export type ComponentHealth = { readonly state: ComponentState } & Readonly<Record<string, unknown>>;

/**
 * One part of the hub with a lifecycle: the hub starts its components in the order of a list and stops them in
 * reverse. The constructor only assigns; start() does the work; stop() undoes all of it (timers and listeners
 * included) and is called after a start() that threw too, so it tolerates a half-done start.
 */
export interface Component {
  /** The name /healthz reports it under, and the step a stop still in progress is said to be in. */
  readonly name: string;
  start(): unknown;
  stop(): unknown;
  /** What /healthz shows of it; undefined for a component that reports nothing of itself (a timer, a cache). */
  health(): ComponentHealth | undefined;
  /**
   * An outlet clients hear from (Socket.IO pushes, the MQTT incident feed): stopped before every other
   * component, so that nothing the rest does while it stops reaches a client half-told.
   */
  readonly stopsFirst?: boolean;
}

/** A component from its parts; a part left out does nothing, and health reports nothing. */
export function component(
  name: string,
  parts: {
    start?: () => unknown;
    stop?: () => unknown;
    health?: () => ComponentHealth | undefined;
    stopsFirst?: boolean;
  },
): Component {
  return {
    name,
    start: parts.start ?? (() => undefined),
    stop: parts.stop ?? (() => undefined),
    health: parts.health ?? (() => undefined),
    ...(parts.stopsFirst === true ? { stopsFirst: true } : {}),
  };
}
