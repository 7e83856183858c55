import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { OnvifClient, OnvifError } from '../../src/cameras/sessions/onvif-client.ts';
import { parseXml, XmlError } from '../../src/net/xml.ts';

describe("the sessions' XML reader", () => {
  it('reads elements by local name with their namespaces, whatever the prefixes', () => {
    const root = parseXml(
      '<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>' +
        '<x:A xmlns:x="urn:a" x:id="1">one &amp; <![CDATA[two <raw>]]></x:A></env:Body></env:Envelope>',
    );
    const a = root.children[0]?.children[0];
    expect(root).toMatchObject({ name: 'Envelope', ns: 'http://www.w3.org/2003/05/soap-envelope' });
    expect(a).toMatchObject({ name: 'A', ns: 'urn:a', attrs: { id: '1' }, text: 'one & two <raw>' });
  });

  it.each([
    ['a DOCTYPE (entity expansion from the network)', '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'],
    ['an undeclared prefix', '<p:x/>'],
    ['mismatched tags', '<a><b></a></b>'],
    ['nesting deeper than 64', `${'<a>'.repeat(65)}${'</a>'.repeat(65)}`],
    ['more than 20,000 elements', `<a>${'<b/>'.repeat(20_001)}</a>`],
    ['text outside the root', 'hello <a/>'],
  ])('refuses %s', (_what, xml) => {
    expect(() => parseXml(xml)).toThrow(XmlError);
  });
});

/** A camera that is only what each test says it is, on loopback. */
async function fakeCamera(
  answer: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => answer(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('the ONVIF client names the operation and the answer of every failure', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  const clientOf = (target: Server) =>
    new OnvifClient({
      xaddr: `http://127.0.0.1:${(target.address() as AddressInfo).port}/onvif/device_service`,
      username: 'admin',
      password: 'secret-password',
      fetch,
      timeoutMs: 1_000,
    });
  const failureOf = async (promise: Promise<unknown>): Promise<OnvifError> => {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OnvifError);
    return error as OnvifError;
  };

  it('an HTML error page: the HTTP status', async () => {
    server = await fakeCamera((_request, response) => {
      response.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>Internal Error');
    });
    const client = clientOf(server);
    const error = await failureOf(
      client.call(client.deviceUrl, 'GetDeviceInformation', '<tds:GetDeviceInformation/>'),
    );
    expect(error.message).toBe('GetDeviceInformation failed: HTTP 500');
  });

  it('a SOAP 1.1 fault of older firmware: its code and string', async () => {
    server = await fakeCamera((_request, response) => {
      response
        .writeHead(500, { 'content-type': 'text/xml' })
        .end(
          '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault>' +
            '<faultcode>SOAP-ENV:Server</faultcode><faultstring>Method not implemented</faultstring>' +
            '</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>',
        );
    });
    const client = clientOf(server);
    const error = await failureOf(client.call(client.deviceUrl, 'GetServices', '<tds:GetServices/>'));
    expect(error.answer).toBe('HTTP 500, fault SOAP-ENV:Server "Method not implemented"');
  });

  it('a camera that answers every Digest response with a new nonce: refused after one retry, not forever', async () => {
    let requests = 0;
    server = await fakeCamera((_request, response) => {
      requests++;
      response
        .writeHead(401, { 'www-authenticate': `Digest realm="cam", qop="auth", nonce="n${requests}"` })
        .end();
    });
    const client = clientOf(server);
    const error = await failureOf(client.call(client.deviceUrl, 'GetCapabilities', '<tds:GetCapabilities/>'));
    expect(error.answer).toBe('HTTP 401');
    // The token, HTTP Digest, Digest with the new nonce, and the token once more.
    expect(requests).toBeLessThanOrEqual(4);
  });

  it('no answer in time, and nobody listening', async () => {
    server = await fakeCamera(() => undefined);
    const client = clientOf(server);
    const slow = await failureOf(client.call(client.deviceUrl, 'GetProfiles', '<trt:GetProfiles/>'));
    expect(slow.message).toBe('GetProfiles failed: no answer within 1000 ms');
    // A port that was just free: fetch() itself refuses port 1 (a blocked port), before any connection.
    const gone = await fakeCamera(() => undefined);
    const port = (gone.address() as AddressInfo).port;
    await new Promise((resolve) => gone.close(resolve));
    const closed = new OnvifClient({
      xaddr: `http://127.0.0.1:${port}/onvif/device_service`,
      username: 'admin',
      password: 'secret-password',
      fetch,
      timeoutMs: 1_000,
    });
    const refused = await failureOf(closed.synchronizeClock());
    expect(refused.message).toBe('GetSystemDateAndTime failed: no answer (ECONNREFUSED)');
    expect(refused.message).not.toContain('secret-password');
  });
});
