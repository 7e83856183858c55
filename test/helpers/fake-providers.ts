import {
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPublicKey,
  hkdfSync,
  verify,
} from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Stand-ins for the notification providers, on loopback: each checks a request as its provider documents it
 * (method, path, query, content type, fields) and recomputes the signature from the secret itself, written from the
 * provider's documentation (never with the hub's own signing code), answers as the provider does, error codes
 * included, and records what arrived. `failNext` makes the next request answer an HTTP status (a provider's 5xx);
 * `stallNext` makes it never answer (a timeout).
 */

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

type Answer = { readonly status: number; readonly json?: unknown; readonly headers?: Record<string, string> };
type Handler = (request: ReceivedRequest) => Answer;

export class FakeProvider {
  readonly received: ReceivedRequest[] = [];
  /** Requests the fake refused as malformed: a test expects none. */
  readonly malformed: string[] = [];
  #server: http.Server | undefined;
  #handler: Handler;
  #failNext: number[] = [];
  #stallNext = 0;
  readonly #stalled = new Set<http.ServerResponse>();

  constructor(handler: Handler) {
    this.#handler = handler;
  }

  get url(): string {
    const address = this.#server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  failNext(status: number): void {
    this.#failNext.push(status);
  }

  stallNext(): void {
    this.#stallNext += 1;
  }

  /** Records why a request breaks the provider's documented format, and answers as the provider would. */
  protected malformedRequest(reason: string): void {
    this.malformed.push(reason);
  }

  async start(): Promise<this> {
    this.#server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', 'http://fake');
        const received: ReceivedRequest = {
          method: request.method ?? '',
          path: url.pathname,
          query: url.searchParams,
          headers: request.headers,
          body: Buffer.concat(chunks),
        };
        this.received.push(received);
        if (this.#stallNext > 0) {
          this.#stallNext -= 1;
          this.#stalled.add(response);
          return;
        }
        const failure = this.#failNext.shift();
        const answer =
          failure === undefined ? this.#handler(received) : { status: failure, json: { message: 'busy' } };
        response.writeHead(answer.status, {
          ...(answer.json === undefined ? {} : { 'content-type': 'application/json' }),
          ...answer.headers,
        });
        response.end(answer.json === undefined ? undefined : JSON.stringify(answer.json));
      });
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const response of this.#stalled) response.destroy();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

const json = (status: number, body: unknown): Answer => ({ status, json: body });
const bodyJson = (request: ReceivedRequest): Record<string, unknown> => {
  try {
    return JSON.parse(request.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
};
const isJson = (request: ReceivedRequest) =>
  request.headers['content-type']?.startsWith('application/json') === true;

/**
 * WeCom (企业微信): GET /cgi-bin/gettoken?corpid&corpsecret → {errcode: 0, access_token, expires_in: 7200};
 * POST /cgi-bin/message/send?access_token with a textcard. Wrong secret: 40001; unknown token: 40014; an expired
 * one: 42001; an unknown agentid: 40056.
 */
export class FakeWecom extends FakeProvider {
  readonly tokensIssued: string[] = [];
  readonly #expired = new Set<string>();
  messages: Record<string, unknown>[] = [];

  constructor(
    readonly corpId: string,
    readonly secret: string,
    readonly agentId: number,
  ) {
    super((request) => this.#answer(request));
  }

  /** Every token is expired as soon as it is issued: a hub must not keep asking. */
  expireOnIssue = false;

  /** Every token issued so far is expired, as WeCom's would be after two hours. */
  expireTokens(): void {
    for (const token of this.tokensIssued) this.#expired.add(token);
  }

  #answer(request: ReceivedRequest): Answer {
    if (request.path === '/cgi-bin/gettoken') {
      if (request.method !== 'GET') this.malformedRequest('gettoken is a GET');
      if (request.query.get('corpid') !== this.corpId)
        return json(200, { errcode: 40013, errmsg: 'invalid corpid' });
      if (request.query.get('corpsecret') !== this.secret)
        return json(200, { errcode: 40001, errmsg: 'invalid credential' });
      const token = `token-${this.tokensIssued.length + 1}-${'x'.repeat(20)}`;
      this.tokensIssued.push(token);
      if (this.expireOnIssue) this.#expired.add(token);
      return json(200, { errcode: 0, errmsg: 'ok', access_token: token, expires_in: 7200 });
    }
    if (request.path === '/cgi-bin/message/send') {
      if (request.method !== 'POST' || !isJson(request)) this.malformedRequest('message/send is a JSON POST');
      const token = request.query.get('access_token') ?? '';
      if (this.#expired.has(token)) return json(200, { errcode: 42001, errmsg: 'access_token expired' });
      if (!this.tokensIssued.includes(token))
        return json(200, { errcode: 40014, errmsg: 'invalid access_token' });
      const body = bodyJson(request);
      const card = body.textcard as Record<string, unknown> | undefined;
      if (
        body.msgtype !== 'textcard' ||
        typeof body.touser !== 'string' ||
        typeof card?.title !== 'string' ||
        typeof card.description !== 'string' ||
        typeof card.url !== 'string' ||
        Buffer.byteLength(card.title) > 128 ||
        Buffer.byteLength(card.description) > 512
      ) {
        this.malformedRequest('textcard fields');
        return json(200, { errcode: 40008, errmsg: 'invalid message type' });
      }
      if (body.agentid !== this.agentId) return json(200, { errcode: 40056, errmsg: 'invalid agentid' });
      this.messages.push(body);
      return json(200, { errcode: 0, errmsg: 'ok', invaliduser: '', msgid: `msg-${this.messages.length}` });
    }
    return json(404, {});
  }
}

/** A WeCom group robot: POST /cgi-bin/webhook/send?key=KEY; an unknown key answers 93000. */
export class FakeWecomRobot extends FakeProvider {
  messages: Record<string, unknown>[] = [];

  constructor(readonly key: string) {
    super((request) => {
      if (request.path !== '/cgi-bin/webhook/send') return json(404, {});
      if (request.method !== 'POST' || !isJson(request)) this.malformedRequest('webhook/send is a JSON POST');
      if (request.query.get('key') !== this.key)
        return json(200, {
          errcode: 93000,
          errmsg:
            'invalid webhook url, hint: [1] more info at https://open.work.weixin.qq.com/devtool/query?e=93000',
        });
      const body = bodyJson(request);
      const ok =
        (body.msgtype === 'text' && typeof (body.text as { content?: unknown })?.content === 'string') ||
        (body.msgtype === 'markdown' &&
          typeof (body.markdown as { content?: unknown })?.content === 'string');
      if (!ok) {
        this.malformedRequest('text or markdown');
        return json(200, { errcode: 40008, errmsg: 'invalid message type' });
      }
      this.messages.push(body);
      return json(200, { errcode: 0, errmsg: 'ok' });
    });
  }
}

/**
 * A DingTalk custom robot with 加签: POST /robot/send?access_token&timestamp&sign, where sign is
 * urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))) and timestamp (ms) within an hour of now.
 * A wrong signature answers 310000 "sign not match"; an unknown token 300001.
 */
export class FakeDingtalk extends FakeProvider {
  messages: Record<string, unknown>[] = [];
  /** The next well-signed message answers 130101: more than 20 messages a minute. */
  rateLimitNext = false;

  constructor(
    readonly accessToken: string,
    readonly secret: string,
  ) {
    super((request) => {
      if (request.path !== '/robot/send') return json(404, {});
      if (request.method !== 'POST' || !isJson(request)) this.malformedRequest('robot/send is a JSON POST');
      if (request.query.get('access_token') !== this.accessToken)
        return json(200, { errcode: 300001, errmsg: 'token is not exist' });
      const timestamp = request.query.get('timestamp') ?? '';
      // URLSearchParams has already URL-decoded `sign`: compare with the base64 before encoding.
      const expected = createHmac('sha256', this.secret)
        .update(`${timestamp}\n${this.secret}`)
        .digest('base64');
      const fresh = Math.abs(Date.now() - Number(timestamp)) < 3_600_000;
      if (!fresh || request.query.get('sign') !== expected)
        return json(200, {
          errcode: 310000,
          errmsg: 'sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]',
        });
      if (this.rateLimitNext) {
        this.rateLimitNext = false;
        return json(200, { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' });
      }
      const body = bodyJson(request);
      if (body.msgtype !== 'markdown' && body.msgtype !== 'actionCard') {
        this.malformedRequest('markdown or actionCard');
        return json(200, { errcode: 40035, errmsg: 'missing parameter' });
      }
      this.messages.push(body);
      return json(200, { errcode: 0, errmsg: 'ok' });
    });
  }
}

/** RFC 3986 encoding, as Alibaba Cloud's signature documentation spells it out. */
function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Alibaba Cloud SMS (dysmsapi 2017-05-25), RPC signature v1: the form's parameters (less Signature) sorted, each
 * name and value percent-encoded and joined; StringToSign = POST&%2F&percentEncode(that);
 * Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)). Unknown key: 404
 * InvalidAccessKeyId.NotFound; bad signature: 400 SignatureDoesNotMatch.
 */
export class FakeAliyunSms extends FakeProvider {
  messages: Record<string, string>[] = [];
  readonly #nonces = new Set<string>();
  /** The next successful send answers isv.BUSINESS_LIMIT_CONTROL instead. */
  limitNext = false;

  constructor(
    readonly accessKeyId: string,
    readonly accessKeySecret: string,
  ) {
    super((request) => this.#answer(request));
  }

  #answer(request: ReceivedRequest): Answer {
    if (request.method !== 'POST' || request.path !== '/')
      return json(404, { Code: 'InvalidAction.NotFound' });
    if (request.headers['content-type'] !== 'application/x-www-form-urlencoded')
      this.malformedRequest('a form body');
    const form = new URLSearchParams(request.body.toString('utf8'));
    const parameters = Object.fromEntries(form);
    const required = {
      Action: 'SendSms',
      Version: '2017-05-25',
      Format: 'JSON',
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
    };
    for (const [name, value] of Object.entries(required))
      if (parameters[name] !== value) this.malformedRequest(`${name} should be ${value}`);
    for (const name of [
      'RegionId',
      'SignatureNonce',
      'Timestamp',
      'PhoneNumbers',
      'SignName',
      'TemplateCode',
    ])
      if (parameters[name] === undefined) this.malformedRequest(`${name} missing`);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(parameters.Timestamp ?? ''))
      this.malformedRequest('Timestamp format');
    if (parameters.AccessKeyId !== this.accessKeyId)
      return json(404, {
        Code: 'InvalidAccessKeyId.NotFound',
        Message: 'Specified access key is not found.',
        RequestId: 'r1',
      });
    const { Signature: signature, ...signed } = parameters;
    const canonical = Object.keys(signed)
      .sort()
      .map((name) => `${percentEncode(name)}=${percentEncode(signed[name] ?? '')}`)
      .join('&');
    const stringToSign = `POST&${percentEncode('/')}&${percentEncode(canonical)}`;
    const expected = createHmac('sha1', `${this.accessKeySecret}&`).update(stringToSign).digest('base64');
    if (signature !== expected)
      return json(400, {
        Code: 'SignatureDoesNotMatch',
        Message: 'Specified signature is not matched with our calculation.',
        RequestId: 'r2',
      });
    const nonce = parameters.SignatureNonce ?? '';
    if (this.#nonces.has(nonce))
      return json(400, { Code: 'SignatureNonceUsed', Message: 'nonce used', RequestId: 'r3' });
    this.#nonces.add(nonce);
    try {
      JSON.parse(parameters.TemplateParam ?? '{}');
    } catch {
      return json(200, { Code: 'isv.INVALID_JSON_PARAM', Message: 'JSON参数不合法', RequestId: 'r4' });
    }
    // Numbers of the 170 segment stand for one the operator refuses; Alibaba Cloud's message names the number.
    if (parameters.PhoneNumbers?.startsWith('170'))
      return json(200, {
        Code: 'isv.MOBILE_NUMBER_ILLEGAL',
        Message: `非法手机号 ${parameters.PhoneNumbers}`,
        RequestId: 'r7',
      });
    if (this.limitNext) {
      this.limitNext = false;
      return json(200, {
        Code: 'isv.BUSINESS_LIMIT_CONTROL',
        Message: '触发分钟级流控Permits:1',
        RequestId: 'r5',
      });
    }
    this.messages.push(parameters);
    return json(200, { Code: 'OK', Message: 'OK', BizId: `biz-${this.messages.length}`, RequestId: 'r6' });
  }
}

/**
 * Tencent Cloud SMS (2021-01-11) with TC3-HMAC-SHA256, as its "Signature v3" page lays it out: the canonical
 * request (POST, /, empty query, the headers content-type and host, their names, the hex SHA-256 of the payload),
 * the string to sign (TC3-HMAC-SHA256, the timestamp, date/sms/tc3_request, the hex SHA-256 of the canonical
 * request), the key HMAC chained from "TC3" + SecretKey over the date, "sms" and "tc3_request". Errors come in
 * Response.Error with HTTP 200.
 */
export class FakeTencentSms extends FakeProvider {
  messages: Record<string, unknown>[] = [];

  constructor(
    readonly secretId: string,
    readonly secretKey: string,
  ) {
    super((request) => this.#answer(request));
  }

  #answer(request: ReceivedRequest): Answer {
    const error = (code: string, message: string) =>
      json(200, { Response: { Error: { Code: code, Message: message }, RequestId: 'req-1' } });
    if (request.method !== 'POST' || request.path !== '/') this.malformedRequest('POST /');
    const headers = request.headers;
    if (headers['x-tc-action'] !== 'SendSms' || headers['x-tc-version'] !== '2021-01-11')
      this.malformedRequest('X-TC-Action / X-TC-Version');
    if (headers['content-type'] !== 'application/json; charset=utf-8') this.malformedRequest('content-type');
    const match =
      /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d\d-\d\d)\/sms\/tc3_request, SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$/.exec(
        headers.authorization ?? '',
      );
    if (match === null) return error('AuthFailure.InvalidAuthorization', 'Authorization is malformed');
    const [, secretId, date, signedHeaders, signature] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (secretId !== this.secretId) return error('AuthFailure.SecretIdNotFound', 'The SecretId is not found');
    const timestamp = Number(headers['x-tc-timestamp']);
    if (Math.abs(Date.now() / 1000 - timestamp) > 300) return error('AuthFailure.SignatureExpire', 'expired');
    if (new Date(timestamp * 1000).toISOString().slice(0, 10) !== date)
      this.malformedRequest('date of the scope');
    const canonicalHeaders = signedHeaders
      .split(';')
      .map(
        (name) =>
          `${name}:${String(headers[name] ?? '')
            .trim()
            .toLowerCase()}\n`,
      )
      .join('');
    const hash = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
    const canonicalRequest = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${hash(request.body)}`;
    const stringToSign = `TC3-HMAC-SHA256\n${timestamp}\n${date}/sms/tc3_request\n${hash(canonicalRequest)}`;
    const secretDate = createHmac('sha256', `TC3${this.secretKey}`).update(date).digest();
    const secretService = createHmac('sha256', secretDate).update('sms').digest();
    const secretSigning = createHmac('sha256', secretService).update('tc3_request').digest();
    const expected = createHmac('sha256', secretSigning).update(stringToSign).digest('hex');
    if (expected !== signature)
      return error('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
    const body = bodyJson(request);
    const phones = body.PhoneNumberSet;
    if (!Array.isArray(phones) || typeof body.SmsSdkAppId !== 'string' || typeof body.TemplateId !== 'string')
      return error('InvalidParameter', 'PhoneNumberSet, SmsSdkAppId, TemplateId');
    this.messages.push(body);
    return json(200, {
      Response: {
        SendStatusSet: phones.map((phone, index) => ({
          SerialNo: `serial-${this.messages.length}-${index}`,
          PhoneNumber: phone,
          Fee: 1,
          SessionContext: body.SessionContext ?? '',
          Code: 'Ok',
          Message: 'send success',
          IsoCode: 'CN',
        })),
        RequestId: 'req-2',
      },
    });
  }
}

/** A deployment's SMS gateway: POST /send with `authorization: Bearer <secret>`, answering {result: {code: 0}}. */
export class FakeSmsGateway extends FakeProvider {
  messages: Record<string, unknown>[] = [];

  constructor(readonly authorization: string) {
    super((request) => {
      if (request.method !== 'POST' || request.path !== '/send' || !isJson(request))
        this.malformedRequest('POST /send JSON');
      if (request.headers.authorization !== this.authorization) return json(401, { result: { code: 401 } });
      this.messages.push(bodyJson(request));
      return json(200, { result: { code: 0 } });
    });
  }
}

/**
 * A call-centre integration checking gridhub's webhook signature, as docs/outbound.md gives it: x-gridhub-signature
 * = "sha256=" + hex HMAC-SHA256(secret, x-gridhub-timestamp + "." + raw body).
 */
export class FakeVoiceIntegration extends FakeProvider {
  calls: Record<string, unknown>[] = [];

  constructor(readonly secret: string) {
    super((request) => {
      const timestamp = String(request.headers['x-gridhub-timestamp'] ?? '');
      const expected = `sha256=${createHmac('sha256', this.secret).update(`${timestamp}.`).update(request.body).digest('hex')}`;
      if (request.headers['x-gridhub-signature'] !== expected) return json(401, { error: 'bad signature' });
      const body = bodyJson(request);
      this.calls.push(body);
      return json(202, { callId: body.callId });
    });
  }
}

/** A browser's push subscription keys, made in the test: the private half decrypts what the hub sends. */
export interface BrowserKeys {
  readonly ecdh: ReturnType<typeof createECDH>;
  readonly p256dh: string;
  readonly auth: string;
}

export function browserKeys(): BrowserKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = Buffer.from(Array.from({ length: 16 }, (_, index) => (index * 37 + 11) % 256));
  return { ecdh, p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };
}

/** What the push service took: the decrypted payload and the headers it checked. */
export interface PushedMessage {
  readonly subscriptionId: string;
  readonly payload: unknown;
  readonly ttl: number;
  readonly urgency: string | undefined;
  readonly topic: string | undefined;
  readonly vapid: { readonly aud: string; readonly exp: number; readonly sub: string };
}

/**
 * A push service standing in for FCM, at http://127.0.0.1:<port>/push/<id>. It checks the VAPID authorization
 * (RFC 8292: `vapid t=<JWT>, k=<public key>`, the JWT ES256-signed by that key, which must be the hub's, aud the
 * endpoint's origin, exp at most 24 hours ahead) and decrypts the aes128gcm body (RFC 8188 header: salt, record
 * size, key id = the sender's ephemeral public key; RFC 8291 keys: ECDH with the browser's private key, HKDF-SHA256
 * with the auth secret, AES-128-GCM), then answers 201. A subscription marked gone answers 410.
 */
export class FakePushService extends FakeProvider {
  readonly messages: PushedMessage[] = [];
  readonly gone = new Set<string>();
  readonly #browsers = new Map<string, BrowserKeys>();
  vapidPublicKey = '';

  constructor() {
    super((request) => this.#answer(request));
  }

  /** A new subscription's endpoint, and the keys a browser would have made for it. */
  subscribe(id: string): { endpoint: string; keys: BrowserKeys } {
    const keys = browserKeys();
    this.#browsers.set(id, keys);
    return { endpoint: `${this.url}/push/${id}`, keys };
  }

  #answer(request: ReceivedRequest): Answer {
    const id = request.path.replace(/^\/push\//, '');
    const browser = this.#browsers.get(id);
    if (request.method !== 'POST' || browser === undefined) return { status: 404 };
    if (this.gone.has(id)) return { status: 410 };
    const vapid = this.#checkVapid(request.headers.authorization ?? '');
    if (typeof vapid === 'string') {
      this.malformedRequest(vapid);
      return { status: 403 };
    }
    if (request.headers['content-encoding'] !== 'aes128gcm')
      this.malformedRequest('Content-Encoding aes128gcm');
    const ttl = Number(request.headers.ttl);
    if (!Number.isInteger(ttl) || ttl < 0) this.malformedRequest('TTL');
    const topic = request.headers.topic as string | undefined;
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) this.malformedRequest('Topic');
    let payload: unknown;
    try {
      payload = JSON.parse(decryptAes128gcm(request.body, browser).toString('utf8'));
    } catch (error) {
      this.malformedRequest(`cannot decrypt: ${(error as Error).message}`);
      return { status: 400 };
    }
    this.messages.push({
      subscriptionId: id,
      payload,
      ttl,
      urgency: request.headers.urgency as string | undefined,
      topic,
      vapid,
    });
    return { status: 201, headers: { location: `${this.url}/message/${this.messages.length}` } };
  }

  #checkVapid(authorization: string): PushedMessage['vapid'] | string {
    const match = /^vapid t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)$/.exec(
      authorization,
    );
    if (match === null) return 'Authorization is not vapid t=…, k=…';
    const [, jwt = '', key = ''] = match;
    if (key !== this.vapidPublicKey) return "k is not the hub's VAPID key";
    const [header = '', claims = '', signature = ''] = jwt.split('.');
    const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as {
      alg?: string;
      typ?: string;
    };
    if (head.alg !== 'ES256') return 'the JWT is not ES256';
    const point = Buffer.from(key, 'base64url');
    const publicKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
    const valid = verify(
      'sha256',
      Buffer.from(`${header}.${claims}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    );
    if (!valid) return 'the JWT signature does not verify';
    const body = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as {
      aud: string;
      exp: number;
      sub: string;
    };
    if (body.aud !== new URL(this.url).origin) return 'aud is not the endpoint origin';
    const now = Date.now() / 1000;
    if (!(body.exp > now && body.exp <= now + 24 * 3600)) return 'exp not within 24 hours';
    if (!/^(mailto:|https:)/.test(body.sub)) return 'sub is not mailto: or https:';
    return body;
  }
}

/** RFC 8188 / RFC 8291 decryption of a single-record aes128gcm body, with the browser's keys. */
export function decryptAes128gcm(body: Buffer, browser: BrowserKeys): Buffer {
  const salt = body.subarray(0, 16);
  const recordSize = body.readUInt32BE(16);
  const idLength = body[20] ?? 0;
  const senderPublic = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  if (idLength !== 65 || record.length > recordSize) throw new Error('header');
  const ecdhSecret = browser.ecdh.computeSecret(senderPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), senderPublic]);
  const ikm = Buffer.from(
    hkdfSync('sha256', ecdhSecret, Buffer.from(browser.auth, 'base64url'), keyInfo, 32),
  );
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (padded[end] !== 2) throw new Error('padding delimiter');
  return padded.subarray(0, end);
}
