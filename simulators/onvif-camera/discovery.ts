import { randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { attr, child, escapeXml, NS, parseXml, resolveQName, type XmlElement } from './soap.ts';

/**
 * WS-Discovery (2005/04, as ONVIF Core 7.3 requires) for one camera: answers a Probe, sent to the multicast
 * group 239.255.255.250:3702 or straight to the camera's discovery port, with a unicast ProbeMatch to the sender.
 *
 * Several cameras may share port 3702 (the socket is bound with SO_REUSEADDR): a multicast probe reaches all of
 * them, a unicast one only one, so tests that probe by unicast give each camera its own port.
 * The multicast group is joined on the camera's own interface only, so a camera on 127.0.0.1 never sends a
 * membership report anywhere but the loopback interface. Joining can fail (no multicast here): that is ignored.
 */

export const WS_DISCOVERY_PORT = 3702;
export const WS_DISCOVERY_GROUP = '239.255.255.250';

const WSD = 'http://schemas.xmlsoap.org/ws/2005/04/discovery';
const WSA_2004 = 'http://schemas.xmlsoap.org/ws/2004/08/addressing';
const ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous';
const PROBE_ACTION = `${WSD}/Probe`;
const PROBE_MATCHES_ACTION = `${WSD}/ProbeMatches`;

/** The types this device answers to: an ONVIF NVT, and an ONVIF device. */
const TYPES: ReadonlyArray<{ readonly ns: string; readonly name: string }> = [
  { ns: NS.dn, name: 'NetworkVideoTransmitter' },
  { ns: NS.tds, name: 'Device' },
];

export interface DiscoveryOptions {
  /** urn:uuid:… that stays the same across restarts. */
  readonly endpointReference: string;
  /** The device service URL(s) advertised as XAddrs. */
  readonly xaddrs: () => readonly string[];
  readonly scopes: () => readonly string[];
  readonly port?: number;
  /** Interface address to join the multicast group on; undefined joins on the default interface. */
  readonly multicastInterface?: string;
}

export class DiscoveryResponder {
  readonly options: DiscoveryOptions;
  #socket: Socket | undefined;
  #port = 0;
  #multicast = false;
  readonly #instanceId = Math.floor(Date.now() / 1000);
  #messageNumber = 0;

  constructor(options: DiscoveryOptions) {
    this.options = options;
  }

  /** The UDP port actually bound. */
  get port(): number {
    return this.#port;
  }

  /** Whether joining the multicast group worked. */
  get multicast(): boolean {
    return this.#multicast;
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.options.port ?? WS_DISCOVERY_PORT, '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.#port = socket.address().port;
    socket.on('error', () => undefined);
    socket.on('message', (message, remote) => this.#onMessage(message, remote));
    const iface = this.options.multicastInterface;
    try {
      if (iface !== undefined && isIPv4(iface) && iface !== '0.0.0.0')
        socket.addMembership(WS_DISCOVERY_GROUP, iface);
      else socket.addMembership(WS_DISCOVERY_GROUP);
      this.#multicast = true;
    } catch {
      this.#multicast = false;
    }
  }

  async stop(): Promise<void> {
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  #onMessage(message: Buffer, remote: RemoteInfo): void {
    let envelope: XmlElement;
    try {
      envelope = parseXml(message.toString('utf8'));
    } catch {
      return; // Not XML: a discovery responder stays silent.
    }
    const header = child(envelope, 'Header');
    const probe = child(child(envelope, 'Body'), 'Probe', WSD);
    if (probe === undefined) return;
    const action = child(header, 'Action')?.text.trim();
    if (action !== undefined && action !== PROBE_ACTION) return;
    if (!this.#matchesTypes(probe) || !this.#matchesScopes(probe)) return;
    const relatesTo = child(header, 'MessageID')?.text.trim() ?? '';
    const reply = Buffer.from(this.#probeMatches(relatesTo), 'utf8');
    this.#socket?.send(reply, remote.port, remote.address);
  }

  /** Every requested type must be one of ours; no Types element matches anything (WS-Discovery 5.1). */
  #matchesTypes(probe: XmlElement): boolean {
    const types = child(probe, 'Types');
    if (types === undefined) return true;
    const requested = types.text.trim().split(/\s+/).filter(Boolean);
    return requested.every((qname) => {
      const { ns, name } = resolveQName(types, qname);
      // node-onvif asks for `Device` in the network namespace: accept a known local name in either namespace.
      return TYPES.some((type) => type.name === name && (ns === type.ns || ns === NS.dn || ns === NS.tds));
    });
  }

  /** Every requested scope must prefix one of ours, segment-wise (MatchBy rfc3986, the default). */
  #matchesScopes(probe: XmlElement): boolean {
    const scopes = child(probe, 'Scopes');
    if (scopes === undefined) return true;
    const matchBy = attr(scopes, 'MatchBy');
    const requested = scopes.text.trim().split(/\s+/).filter(Boolean);
    const ours = this.options.scopes();
    return requested.every((wanted) =>
      ours.some((scope) =>
        matchBy?.endsWith('/strcmp0')
          ? scope === wanted
          : scope === wanted || scope.startsWith(wanted.endsWith('/') ? wanted : `${wanted}/`),
      ),
    );
  }

  #probeMatches(relatesTo: string): string {
    this.#messageNumber += 1;
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<SOAP-ENV:Envelope xmlns:SOAP-ENV="${NS.s}" xmlns:wsa="${WSA_2004}" xmlns:d="${WSD}" xmlns:dn="${NS.dn}" xmlns:tds="${NS.tds}">` +
      '<SOAP-ENV:Header>' +
      `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID>` +
      `<wsa:RelatesTo>${escapeXml(relatesTo)}</wsa:RelatesTo>` +
      `<wsa:To SOAP-ENV:mustUnderstand="true">${ANONYMOUS}</wsa:To>` +
      `<wsa:Action SOAP-ENV:mustUnderstand="true">${PROBE_MATCHES_ACTION}</wsa:Action>` +
      `<d:AppSequence SOAP-ENV:mustUnderstand="true" MessageNumber="${this.#messageNumber}" InstanceId="${this.#instanceId}"/>` +
      '</SOAP-ENV:Header>' +
      '<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>' +
      `<wsa:EndpointReference><wsa:Address>${escapeXml(this.options.endpointReference)}</wsa:Address></wsa:EndpointReference>` +
      '<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>' +
      `<d:Scopes>${this.options.scopes().map(escapeXml).join(' ')}</d:Scopes>` +
      `<d:XAddrs>${this.options.xaddrs().map(escapeXml).join(' ')}</d:XAddrs>` +
      '<d:MetadataVersion>1</d:MetadataVersion>' +
      '</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body>' +
      '</SOAP-ENV:Envelope>'
    );
  }
}
