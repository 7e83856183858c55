import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Whose X-Forwarded-For to believe (`http.trustProxy`): as fastify's trustProxy takes it. */
export type TrustProxy = boolean | number | readonly string[];

/** An address or CIDR range as the trustProxy list takes it. */
export function isAddressOrRange(entry: string): boolean {
  const [address, bits, rest] = entry.split('/');
  if (rest !== undefined || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const prefix = Number(bits);
  return /^\d+$/.test(bits) && prefix <= (family === 4 ? 32 : 128);
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) as `10.0.0.1`. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * Whether the address `hop` steps from the hub (0: the connection's peer) is a proxy to believe: fastify's
 * trustProxy function, so request.ip and the Socket.IO handshake's address agree.
 */
export function trustFunction(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  const list = new BlockList();
  for (const entry of trust) {
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (address) => {
    const bare = plain(address);
    const family = isIP(bare);
    return family !== 0 && list.check(bare, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * The client's address behind trusted proxies, as fastify computes request.ip (proxy-addr): from the connection's
 * peer leftwards through X-Forwarded-For, the first address that is not a trusted proxy. Used where fastify is not
 * in the path: the Socket.IO handshake (its logs and rate limits).
 */
export function clientAddressOf(trust: TrustProxy): (request: IncomingMessage) => string | undefined {
  if (trust === false) return (request) => request.socket.remoteAddress;
  const trusted = trustFunction(trust);
  return (request) => {
    const peer = request.socket.remoteAddress;
    if (peer === undefined) return undefined;
    const header = request.headers['x-forwarded-for'];
    const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((address) => address.trim())
      .filter((address) => address !== '')
      .reverse();
    const chain = [plain(peer), ...forwarded.map(plain)];
    for (let hop = 0; hop < chain.length - 1; hop++) {
      if (!trusted(chain[hop] as string, hop)) return chain[hop];
    }
    return chain[chain.length - 1];
  };
}
