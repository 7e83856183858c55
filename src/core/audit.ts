/** Who did what to which device or incident, when, and how it ended. Every command and provisioning step. */
export interface AuditEntry {
  readonly id: string;
  /** ISO 8601. */
  readonly at: string;
  readonly actor:
    | { readonly userId: string; readonly role: string }
    | { readonly userId: 'system'; readonly role: 'system' };
  /** e.g. `command.unlock`, `device.provision`, `device.rotate`, `device.disable`. */
  readonly action: string;
  readonly target: { readonly kind: 'device' | 'incident' | 'grid' | 'user'; readonly id: string };
  readonly outcome: 'ok' | 'refused' | 'failed' | 'timeout';
  /** The parameters or result, small and free of secrets. */
  readonly detail: Readonly<Record<string, unknown>>;
  readonly message?: string;
}
