/**
 * The GB/T 28181 alarm tables, both directions. They are the adapter's knowledge (devices/gb28181/alarm-codes.ts:
 * an adapter imports only src/core, so the data lives beside it); the connector and the cascade read them here.
 */
export * from '../../../devices/gb28181/alarm-codes.ts';
