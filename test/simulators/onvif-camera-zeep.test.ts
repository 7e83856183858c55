import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { OnvifCameraSimulator } from '../../simulators/onvif-camera/onvif-camera.ts';

/**
 * The simulator's SOAP faults read by zeep (Debian's python3-zeep), the SOAP library under Home Assistant's ONVIF
 * integration (onvif-zeep-async). zeep turns a SOAP 1.2 Fault into `Fault(message, code, subcodes, detail)`:
 * message is the Reason text, subcodes are QNames resolved against the prefixes in scope, detail is the s:Detail
 * element or None. Home Assistant then decides on those fields: an authentication failure is a subcode containing
 * `NotAuthorized` (or "auth" in the text); a PTZ fault whose text contains "Action Not Implemented" means "not
 * supported"; and older releases build their error text with `message + ": " + detail`, which fails on a Detail
 * element, so a fault with an s:Detail aborts their setup. The camera's faults carry none, as real firmware's.
 *
 * The requests are raw SOAP over HTTP (zeep needs the ONVIF WSDLs to call operations, and they are not packaged in
 * Debian); the answers go through zeep's own `Soap12Binding.process_error`.
 */

const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import json, sys, urllib.request, urllib.error
from lxml import etree
from zeep.exceptions import Fault
from zeep.wsdl.bindings.soap import Soap12Binding

xaddr, media, user, password = sys.argv[1:5]
token = ('<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
         '<wsse:UsernameToken><wsse:Username>%s</wsse:Username>'
         '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">%s</wsse:Password>'
         '</wsse:UsernameToken></wsse:Security>')

def call(url, body, secret):
    envelope = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
                '<s:Header>' + token % (user, secret) + '</s:Header><s:Body>' + body + '</s:Body></s:Envelope>')
    request = urllib.request.Request(url, data=envelope.encode(), headers={'Content-Type': 'application/soap+xml'})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()

binding = Soap12Binding(None, None, None, None, None)
results = {}
for name, url, body, secret in [
    ('auth', xaddr, '<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>', 'wrong'),
    ('unsupported', xaddr, '<SetNetworkInterfaces xmlns="http://www.onvif.org/ver10/device/wsdl"/>', password),
    ('profile', media, '<GetStreamUri xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>nope</ProfileToken></GetStreamUri>', password),
]:
    status, content = call(url, body, secret)
    try:
        binding.process_error(etree.fromstring(content), None)
    except Fault as fault:
        results[name] = {
            'status': status,
            'message': fault.message,
            'code': fault.code,
            'subcodes': [subcode.text for subcode in fault.subcodes],
            'detail': None if fault.detail is None else etree.QName(fault.detail).localname,
        }
print(json.dumps(results))
`;

interface ZeepFault {
  status: number;
  message: string;
  code: string;
  subcodes: string[];
  detail: string | null;
}

const cameras: OnvifCameraSimulator[] = [];
afterEach(async () => {
  await Promise.all(cameras.splice(0).map((cam) => cam.stop()));
});

function zeepFaults(cam: OnvifCameraSimulator, password: string): Promise<Record<string, ZeepFault>> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      ['-c', SCRIPT, cam.xaddr, `${cam.address}/onvif/media_service`, cam.options.username, password],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${error.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as Record<string, ZeepFault>);
      },
    );
  });
}

describe("zeep (Home Assistant's SOAP library) reading the simulator's faults", () => {
  it('reads an authentication failure, an unsupported operation and an unknown profile as Home Assistant expects', async () => {
    const cam = new OnvifCameraSimulator({
      username: 'admin',
      password: 'Zeep-2025',
      name: 'Zeep-Cam',
      manufacturer: 'GridSim',
      model: 'GS-IPC-T2',
      serialNumber: 'GS20259001',
      discoveryPort: false,
    });
    cameras.push(cam);
    await cam.start();
    const faults = await zeepFaults(cam, 'Zeep-2025');
    const ter = '{http://www.onvif.org/ver10/error}';

    expect(faults.auth).toEqual({
      status: 400,
      message: 'Sender not Authorized',
      code: 's:Sender',
      subcodes: [`${ter}NotAuthorized`],
      detail: null,
    });
    // Home Assistant's is_auth_error: a subcode containing NotAuthorized.
    expect(faults.auth?.subcodes.some((code) => code.includes('NotAuthorized'))).toBe(true);

    expect(faults.unsupported).toEqual({
      status: 500,
      message: 'Optional Action Not Implemented',
      code: 's:Receiver',
      subcodes: [`${ter}ActionNotSupported`],
      detail: null,
    });
    // Home Assistant's PTZ: "Action Not Implemented" in the error means the camera does not do it.
    expect(faults.unsupported?.message).toContain('Action Not Implemented');

    expect(faults.profile).toMatchObject({
      status: 400,
      code: 's:Sender',
      subcodes: [`${ter}InvalidArgVal`, `${ter}NoProfile`],
      detail: null,
    });
  });
});
