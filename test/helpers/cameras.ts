import { type OnvifCameraOptions, OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';

/** A simulated ONVIF camera with an RTSP stream, started, logging in as `admin` with `password`. */
export async function startSimulatedCamera(
  password: string,
  identity: { name: string; serialNumber: string },
  extra: Partial<OnvifCameraOptions> = {},
): Promise<OnvifCameraSimulator> {
  const camera = new OnvifCameraSimulator({
    username: 'admin',
    password,
    manufacturer: 'Gridhub Sim',
    model: extra.presets === undefined ? 'SIM-BOX' : 'SIM-PTZ',
    rtsp: true,
    discoveryPort: false,
    ...identity,
    ...extra,
  });
  await camera.start();
  return camera;
}

/** The configuration's device for a simulated camera in a grid, with whatever else the test gives it. */
export function simulatedCameraDevice(
  camera: OnvifCameraSimulator,
  device: { id: string; name: string; grid: string } & Record<string, unknown>,
): Record<string, unknown> {
  return {
    adapter: 'onvif-camera',
    onvif: { xaddr: camera.xaddr, username: 'admin', password: camera.options.password },
    ...device,
  };
}
