/** What `device:status` carries: whether a device is online, as the hub sees it. */
export interface DeviceStatus {
  readonly deviceId: string;
  readonly name: string;
  readonly adapter: string;
  readonly gridId: string;
  readonly online: boolean;
  readonly disabled: boolean;
  /** ISO 8601 of the last message, null when never heard from since the hub started. */
  readonly lastSeenAt: string | null;
  /** ISO 8601 of the last change between online and offline. */
  readonly since: string;
}
