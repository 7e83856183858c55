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
}

export interface CameraDirectory {
  /** The camera's media, once its session has connected; undefined before, or for a device that is not a camera. */
  media(cameraId: string): CameraMedia | undefined;
  /** The cameras the config links to a device (`watches`), with the PTZ preset that points at it, if any. */
  camerasWatching(deviceId: string): readonly { cameraId: string; preset?: string }[];
  /** Turns a PTZ camera to a preset; resolves when the camera accepted it. */
  gotoPreset(cameraId: string, preset: string): Promise<void>;
}
