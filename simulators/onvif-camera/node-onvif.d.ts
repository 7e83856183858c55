/**
 * The part of node-onvif 0.1.7 (CommonJS, no types of its own) that the simulator's tests use.
 * Shapes follow its lib/modules/device.js and lib/node-onvif.js.
 */
declare module 'node-onvif' {
  import type { EventEmitter } from 'node:events';

  export interface NodeOnvifProfile {
    token: string;
    name: string;
    snapshot: string;
    stream: { udp: string; http: string; rtsp: string };
    video: {
      source: {
        token: string;
        name: string;
        bounds: { width: number; height: number; x: number; y: number };
      } | null;
      encoder: {
        token: string;
        name: string;
        resolution: { width: number; height: number };
        quality: number;
        framerate: number;
        bitrate: number;
        encoding: string;
      } | null;
    };
    ptz: { range: Record<'x' | 'y' | 'z', { min: number; max: number }> };
  }

  export interface NodeOnvifInformation {
    Manufacturer: string;
    Model: string;
    FirmwareVersion: string;
    SerialNumber: string;
    HardwareId: string;
  }

  /** What a service method resolves with: the raw SOAP, and the parsed body (prefixes stripped). */
  export interface NodeOnvifResult {
    soap: string;
    // biome-ignore lint/suspicious/noExplicitAny: xml2js output, shaped by whatever the device answered.
    data: Record<string, any>;
  }

  /** The device service's reads the tests make (lib/modules/service-device.js). */
  export interface NodeOnvifDeviceService {
    getNetworkInterfaces(): Promise<NodeOnvifResult>;
    getNetworkDefaultGateway(): Promise<NodeOnvifResult>;
    getDNS(): Promise<NodeOnvifResult>;
    getNTP(): Promise<NodeOnvifResult>;
    getUsers(): Promise<NodeOnvifResult>;
    getDiscoveryMode(): Promise<NodeOnvifResult>;
  }

  /** The media service's reads the tests make (lib/modules/service-media.js). */
  export interface NodeOnvifMediaService {
    getVideoSources(): Promise<NodeOnvifResult>;
    getVideoSourceConfigurations(): Promise<NodeOnvifResult>;
    getVideoEncoderConfigurations(): Promise<NodeOnvifResult>;
    getVideoEncoderConfiguration(params: { ConfigurationToken: string }): Promise<NodeOnvifResult>;
    getVideoEncoderConfigurationOptions(params: {
      ConfigurationToken?: string;
      ProfileToken?: string;
    }): Promise<NodeOnvifResult>;
  }

  export interface NodeOnvifPtzService {
    getPresets(params: { ProfileToken: string }): Promise<NodeOnvifResult>;
    gotoPreset(params: { ProfileToken: string; PresetToken: string }): Promise<NodeOnvifResult>;
  }

  export interface NodeOnvifDeviceParams {
    xaddr?: string;
    address?: string;
    user?: string;
    pass?: string;
  }

  export class OnvifDevice extends EventEmitter {
    constructor(params: NodeOnvifDeviceParams);
    xaddr: string;
    services: {
      device: NodeOnvifDeviceService;
      media: NodeOnvifMediaService;
      events: unknown;
      ptz: NodeOnvifPtzService | null;
    };
    init(): Promise<NodeOnvifInformation>;
    getInformation(): NodeOnvifInformation | null;
    getCurrentProfile(): NodeOnvifProfile | null;
    getProfileList(): NodeOnvifProfile[];
    getUdpStreamUrl(): string;
    fetchSnapshot(): Promise<{ headers: Record<string, string>; body: Buffer }>;
  }

  export interface NodeOnvifProbe {
    urn: string;
    name: string;
    hardware: string;
    location: string;
    types: string[];
    xaddrs: string[];
    scopes: string[];
  }

  interface NodeOnvif {
    OnvifDevice: typeof OnvifDevice;
    startProbe(): Promise<NodeOnvifProbe[]>;
    stopProbe(): Promise<void>;
    /** Private knobs of its discovery: where probes go, and how long it listens for answers. */
    _MULTICAST_ADDRESS: string;
    _PORT: number;
    _DISCOVERY_WAIT: number;
    _DISCOVERY_INTERVAL: number;
  }

  const nodeOnvif: NodeOnvif;
  export default nodeOnvif;
}
