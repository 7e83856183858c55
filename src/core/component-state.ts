/**
 * Where a component of the hub stands, as `/health` and the metrics report it: the store, the broker, the
 * realtime server, the camera sessions. Shared by every component, so it lives with none of them.
 */
export type ComponentState = 'starting' | 'up' | 'down';
