import { isIPv6 } from 'node:net';

/** A host as a URI (HTTP or SIP) writes it: an IPv6 address in brackets, anything else as it is. */
export function uriHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}
