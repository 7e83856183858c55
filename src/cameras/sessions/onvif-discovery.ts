import onvif from 'onvif';

// The onvif package is CommonJS: Node's ESM loader sees its Cam export, not Discovery; take it from the default.
const { Discovery } = onvif;

/** A camera that answered a WS-Discovery probe. */
export interface DiscoveredCamera {
  /** Its stable urn:uuid endpoint reference. */
  readonly endpointReference: string;
  /** Its device service addresses: what goes into a camera's `onvif.xaddr`. */
  readonly xaddrs: readonly string[];
  /** ONVIF scopes, e.g. onvif://www.onvif.org/name/EastGate-Cam-1. */
  readonly scopes: readonly string[];
}

export interface DiscoveryOptions {
  readonly timeoutMs: number;
  /** The network interface to probe from, e.g. eth0 or lo; the default route's when left out. */
  readonly networkInterface?: string;
}

/** The onvif client's Discovery is one process-wide emitter: probes run one at a time. */
let queue: Promise<unknown> = Promise.resolve();

const words = (text: unknown): string[] =>
  typeof text === 'string' ? text.split(/\s+/).filter(Boolean) : [];

/**
 * Finds ONVIF cameras on the local network with a WS-Discovery Probe (multicast 239.255.255.250:3702) and returns
 * what each ProbeMatch says of itself. Nothing is connected to: onboarding is adding the camera to the config
 * with the xaddr and its credentials.
 */
export function discoverCameras(options: DiscoveryOptions): Promise<DiscoveredCamera[]> {
  const probe = (): Promise<DiscoveredCamera[]> =>
    new Promise((resolve) => {
      // Answers that are not ProbeMatches are the network's noise: the onvif client reports them as errors.
      const ignore = (): void => undefined;
      Discovery.on('error', ignore);
      Discovery.probe(
        {
          timeout: options.timeoutMs,
          resolve: false,
          ...(options.networkInterface === undefined ? {} : { device: options.networkInterface }),
        },
        (_errors, matches) => {
          Discovery.removeListener('error', ignore);
          const cameras = (matches ?? []).map((match) => {
            const probeMatch = (match as { probeMatches?: { probeMatch?: Record<string, unknown> } })
              .probeMatches?.probeMatch;
            const reference = (probeMatch?.endpointReference as { address?: unknown } | undefined)?.address;
            return {
              endpointReference: typeof reference === 'string' ? reference : '',
              xaddrs: words(probeMatch?.XAddrs),
              scopes: words(probeMatch?.scopes),
            };
          });
          resolve(cameras.filter((camera) => camera.endpointReference !== '' && camera.xaddrs.length > 0));
        },
      );
    });
  const run = queue.then(probe, probe);
  queue = run.catch(() => undefined);
  return run;
}
