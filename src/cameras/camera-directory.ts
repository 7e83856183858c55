import type { HttpCameraMedia } from '../core/adapter.ts';
import type { FetchedBody } from '../net/digest-fetch.ts';

/**
 * What the evidence pipeline needs to know of the cameras, provided by the ONVIF sessions: where each camera's
 * snapshot and stream are, the credentials to fetch them, its PTZ presets, and which cameras watch which devices.
 */
export interface CameraMedia {
  readonly cameraId: string;
  /** HTTP(S) snapshot URI from GetSnapshotUri; undefined when the camera has none. */
  readonly snapshotUri: string | undefined;
  /** RTSP URI from GetStreamUri; undefined until the session has it. */
  readonly streamUri: string | undefined;
  readonly username: string;
  readonly password: string;
  /**
   * A still the camera takes on command and delivers itself (GB/T 28181-2022's snapshot: the device uploads to the
   * hub), preferred to the snapshot URI; undefined for cameras without one.
   */
  readonly takeSnapshot?: (signal: AbortSignal) => Promise<FetchedBody>;
}

export interface CameraDirectory {
  /** The camera's media, once its session has connected; undefined before, or for a device that is not a camera. */
  media(cameraId: string): CameraMedia | undefined;
  /** The cameras the config links to a device (`watches`), with the PTZ preset that points at it, if any. */
  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[];
  /** Turns a PTZ camera to a preset; resolves when the camera accepted it. */
  gotoPreset(cameraId: string, preset: string): Promise<void>;
}

/** The stream URI with the camera's credentials, for ffmpeg; never logged. */
export function withCredentials(uri: string, media: CameraMedia): string {
  const url = new URL(uri);
  if (url.username === '' && media.username !== '') {
    url.username = encodeURIComponent(media.username);
    url.password = encodeURIComponent(media.password);
  }
  return url.href;
}

/** Takes a GB/T 28181 camera's snapshot through its device's registration (Gb28181Server.snapshot). */
export type GbSnapshots = (cameraId: string, signal: AbortSignal) => Promise<FetchedBody>;

/** What the directory reads of a device: how it is reached, and what its adapter says of its media. */
interface CameraDevice {
  readonly http?: { readonly url: string; readonly username: string; readonly password: string };
  /** A GB/T 28181 camera's RTSP stream, when configured (its own SIP media session is not used). */
  readonly gb28181?: {
    readonly rtsp?: { readonly url: string; readonly username?: string; readonly password?: string };
    readonly snapshot?: boolean;
  };
  readonly adapter: { readonly transport?: string; readonly httpMedia?: HttpCameraMedia };
}

/**
 * The cameras the evidence pipeline draws on: ONVIF cameras through their sessions, cameras with an HTTP API
 * (Hikvision, Dahua) through the snapshot path and stream their adapter names, on the device's `http` address, and
 * GB/T 28181 cameras through the RTSP stream their `gb28181.rtsp` names.
 */
export class CombinedCameraDirectory implements CameraDirectory {
  readonly #onvif: CameraDirectory;
  readonly #device: (deviceId: string) => CameraDevice | undefined;

  readonly #gbSnapshot: GbSnapshots | undefined;

  constructor(
    onvif: CameraDirectory,
    device: (deviceId: string) => CameraDevice | undefined,
    gbSnapshot?: GbSnapshots,
  ) {
    this.#onvif = onvif;
    this.#device = device;
    this.#gbSnapshot = gbSnapshot;
  }

  /**
   * Whether the device films: an ONVIF camera, or one whose adapter names its media and whose `http` access the hub
   * has (a device of that family that only pushes to the hub cannot be fetched from).
   */
  isCamera(deviceId: string): boolean {
    const device = this.#device(deviceId);
    return (
      device?.adapter.transport === 'onvif' ||
      (device?.adapter.httpMedia !== undefined && device.http !== undefined) ||
      device?.gb28181?.rtsp !== undefined ||
      (device?.gb28181?.snapshot === true && this.#gbSnapshot !== undefined)
    );
  }

  media(cameraId: string): CameraMedia | undefined {
    const device = this.#device(cameraId);
    const gb = device?.gb28181;
    // A GB/T 28181 camera: its snapshot command where it takes one, else a frame of its RTSP stream.
    if (gb?.rtsp !== undefined || (gb?.snapshot === true && this.#gbSnapshot !== undefined)) {
      const gbSnapshot = this.#gbSnapshot;
      return {
        cameraId,
        snapshotUri: undefined,
        streamUri: gb.rtsp?.url,
        username: gb.rtsp?.username ?? '',
        password: gb.rtsp?.password ?? '',
        ...(gb.snapshot === true && gbSnapshot !== undefined
          ? { takeSnapshot: (signal: AbortSignal) => gbSnapshot(cameraId, signal) }
          : {}),
      };
    }
    const media = device?.adapter.httpMedia;
    if (device?.http === undefined || media === undefined) return this.#onvif.media(cameraId);
    const base = new URL(device.http.url);
    const stream =
      media.stream === undefined
        ? undefined
        : new URL(`rtsp://${base.hostname}:${media.stream.port}${media.stream.path}`);
    return {
      cameraId,
      snapshotUri:
        media.snapshotPath === undefined ? undefined : new URL(media.snapshotPath, base).toString(),
      streamUri: stream?.toString(),
      username: device.http.username,
      password: device.http.password,
    };
  }

  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[] {
    return this.#onvif.camerasWatching(deviceId);
  }

  gotoPreset(cameraId: string, preset: string): Promise<void> {
    if (this.#device(cameraId)?.adapter.httpMedia !== undefined) {
      return Promise.reject(new Error(`camera ${cameraId} turns to presets over ONVIF only`));
    }
    return this.#onvif.gotoPreset(cameraId, preset);
  }
}
