import type { Refusal } from './lifecycle.ts';

/** Why an incident was not changed: the lifecycle refused the action, or the incident is none the caller may see. */
export class IncidentError extends Error {
  constructor(
    readonly kind: Refusal['kind'] | 'not_found',
    message: string,
  ) {
    super(message);
  }
}
