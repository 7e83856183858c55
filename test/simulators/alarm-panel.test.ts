import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { publicMalformedMessages, publicMessages } from '../../devices/alarm-panel-cid/public-messages.ts';
import { AlarmPanelSimulator } from '../../simulators/alarm-panel/alarm-panel.ts';
import { crc16, encodeMessage, readAnswer } from '../../simulators/alarm-panel/dc09-sender.ts';
import {
  dc09Ack,
  dc09Crc,
  dc09Duh,
  dc09Nak,
  readDc09Content,
  readDc09Frame,
} from '../../src/ingest/sia-dc09/dc09-message.ts';

/**
 * The two DC-09 implementations of this project (the hub's receiver codec, the simulator's sender) against each
 * other, against messages real panels and public projects published, and against an independent receiver:
 * ioBroker.sia's parser (npm `iobroker.sia` 2.x, its build/lib/sia.js run alone, without the ioBroker runtime).
 */

interface IobrokerSia {
  setAccounts(accounts: { accountnumber: string; aes: boolean; hex: boolean; password?: string }[]): void;
  parseSIA(data: Buffer): {
    id: string;
    seq: string;
    rpref: string;
    lpref: string;
    act: string;
    data_message: string;
    data_extended: string;
    ts: string;
  };
  createACK(parsed: ReturnType<IobrokerSia['parseSIA']>): Buffer;
  createNACK(data: Buffer): Buffer;
  serverudp: { close(): void; address(): { port: number } };
  servertcp: { close(): void; address(): { port: number } | null };
  serverStartTCP(): void;
  serverStartUDP(): void;
  on(
    event: 'sia',
    listener: (parsed: ReturnType<IobrokerSia['parseSIA']> | undefined, error?: string) => void,
  ): void;
}

const require = createRequire(import.meta.url);
const { sia: IobrokerReceiver } = require('iobroker.sia/build/lib/sia.js') as {
  sia: new (options: {
    port: number;
    host: string;
    timeout: number;
    sockend?: boolean;
    logger?: Record<'info' | 'debug' | 'error', (text: string) => void>;
  }) => IobrokerSia;
};

/** ioBroker.sia's parser with these accounts; its timestamp window off (0), as fixtures are years old. */
function iobroker(accounts: Parameters<IobrokerSia['setAccounts']>[0]): IobrokerSia {
  const receiver = new IobrokerReceiver({ port: 0, host: '127.0.0.1', timeout: 0 });
  // The constructor makes a UDP socket it never binds: close it, nothing else is left open.
  receiver.serverudp.close();
  receiver.setAccounts(accounts);
  return receiver;
}

function keyOf(key: { value: string; encoding: 'hex' | 'text' } | undefined): Buffer | undefined {
  return key === undefined ? undefined : Buffer.from(key.value, key.encoding === 'text' ? 'utf8' : 'hex');
}

describe('DC-09 framing: the receiver codec, the simulator and published messages', () => {
  it('computes CRC-16/ARC as the standard does (check value of "123456789" is 0xBB3D)', () => {
    expect(dc09Crc(Buffer.from('123456789'))).toBe(0xbb3d);
    expect(crc16(Buffer.from('123456789'))).toBe(0xbb3d);
  });

  for (const message of publicMessages) {
    it(`reads ${message.name}`, () => {
      const read = readDc09Frame(Buffer.from(message.bytes, 'latin1'));
      expect(read.ok).toBe(true);
      if (!read.ok) return;
      expect(read.value.token).toBe(message.says.token);
      expect(Number(read.value.seq)).toBe(message.says.seq);
      expect(read.value.line).toBe(message.says.line);
      expect(read.value.receiver).toBe(message.says.receiver);
      const content = readDc09Content(read.value, keyOf(message.key));
      expect(content).toEqual({
        ok: true,
        value: {
          account: message.account,
          data: message.says.data,
          extended: [],
          ...(message.says.time === null ? {} : { timestamp: message.says.time }),
        },
      });
    });

    it(`the simulator writes ${message.name} byte for byte from what it says`, () => {
      const { says } = message;
      const key = keyOf(message.key);
      const bytes = encodeMessage(
        {
          token: says.token,
          seq: says.seq,
          account: message.account,
          line: says.line,
          ...(says.receiver === undefined ? {} : { receiver: says.receiver }),
          data: says.data,
          time: says.time,
        },
        {
          ...(key === undefined ? {} : { key }),
          lowercaseHex: says.lowercaseHex === true,
          ...(says.padHex === undefined
            ? {}
            : {
                pad: (length: number) => {
                  expect(length).toBe(says.padHex?.length === undefined ? 0 : says.padHex.length / 2);
                  return Buffer.from(says.padHex as string, 'hex').toString('latin1');
                },
              }),
        },
      );
      expect(bytes.toString('latin1')).toBe(message.bytes);
    });
  }

  for (const message of publicMalformedMessages) {
    it(`refuses ${message.name}`, () => {
      const read = readDc09Frame(Buffer.from(message.bytes, 'latin1'));
      expect(read.ok).toBe(false);
    });
  }

  it('refuses a message in a wrong key: the decryption does not read as content', () => {
    const message = publicMessages.find((candidate) => candidate.says.token === 'SIA-DCS' && candidate.key);
    const read = readDc09Frame(Buffer.from(message?.bytes ?? '', 'latin1'));
    if (!read.ok) throw new Error(read.problem);
    expect(readDc09Content(read.value, Buffer.from('FEDCBA9876543210'))).toEqual({
      ok: false,
      problem: "the message does not decrypt with the account's key",
    });
  });
});

describe('ioBroker.sia, an independent receiver, reads what the simulator sends', () => {
  const time = Date.UTC(2026, 11, 7, 10, 0, 0);

  it('Contact ID in the clear, with the account, sequence, receiver, line and timestamp', () => {
    const receiver = iobroker([{ accountnumber: 'A1B2C3', aes: false, hex: false }]);
    const bytes = encodeMessage({
      token: 'ADM-CID',
      seq: 42,
      account: 'A1B2C3',
      receiver: '12',
      line: '3',
      data: '1130 01 007',
      time,
    });
    const parsed = receiver.parseSIA(bytes);
    expect(parsed).toMatchObject({
      id: 'ADM-CID',
      seq: '0042',
      rpref: '12',
      lpref: '3',
      act: 'A1B2C3',
      data_message: '#A1B2C3|1130 01 007',
      ts: '10:00:00,12-07-2026',
    });
    // Its ACK and ours are the same bytes: a plain ACK carries no time, so nothing may differ.
    const header = readDc09Frame(bytes);
    if (!header.ok) throw new Error(header.problem);
    expect(receiver.createACK(parsed).toString('latin1')).toBe(
      dc09Ack(header.value, 'A1B2C3', undefined, time).toString('latin1'),
    );
  });

  for (const [bits, key] of [
    [128, Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex')],
    [192, Buffer.from('00112233445566778899AABBCCDDEEFF0011223344556677', 'hex')],
    [256, Buffer.from('00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF', 'hex')],
  ] as const) {
    it(`SIA DCS encrypted with AES-${bits}; our encrypted ACK and ioBroker's read the same to the panel`, () => {
      const receiver = iobroker([
        { accountnumber: '1234', aes: true, hex: true, password: key.toString('hex') },
      ]);
      const bytes = encodeMessage(
        {
          token: 'SIA-DCS',
          seq: 7,
          account: '1234',
          line: '0',
          data: 'Nri1/BA003',
          extended: ['H10:00:00'],
          time,
        },
        { key },
      );
      const parsed = receiver.parseSIA(bytes);
      expect(parsed).toMatchObject({
        id: '*SIA-DCS',
        seq: '0007',
        act: '1234',
        data_message: '#1234|Nri1/BA003',
        data_extended: 'H10:00:00',
        ts: '10:00:00,12-07-2026',
      });
      const header = readDc09Frame(bytes);
      if (!header.ok) throw new Error(header.problem);
      const ours = readAnswer(dc09Ack(header.value, '1234', key, time), key);
      const theirs = readAnswer(receiver.createACK(parsed), key);
      for (const answer of [ours, theirs]) {
        expect(answer).toMatchObject({
          kind: 'ACK',
          encrypted: true,
          seq: '0007',
          account: '1234',
          intact: true,
        });
        expect(Math.abs((answer.time ?? 0) - Date.now())).toBeLessThan(5 * 365 * 86_400_000);
      }
      expect(ours.time).toBe(time);
    });
  }

  it('our NAK is ioBroker.sia’s NAK: seq 0000, R0 L0 A0, the receiver’s time', () => {
    const receiver = iobroker([{ accountnumber: '1234', aes: false, hex: false }]);
    const before = Date.now();
    // It answers in the CRC format of the message it refuses: a message with its CRC in hexadecimal.
    const refused = Buffer.from(publicMessages[0]?.bytes ?? '', 'latin1');
    const theirs = receiver.createNACK(refused).toString('latin1');
    const ours = dc09Nak(Math.floor(before / 1000) * 1000).toString('latin1');
    // Equal unless a second ticked between the two.
    const stamp = (text: string) => text.replace(/_\d{2}:\d{2}:\d{2},\d{2}-\d{2}-\d{4}/, '_T').slice(9);
    expect(stamp(ours)).toBe(stamp(theirs));
    expect(readAnswer(Buffer.from(ours, 'latin1'))).toMatchObject({ kind: 'NAK', seq: '0000', intact: true });
  });

  it('our DUH echoes the sequence, receiver, line and account', () => {
    const bytes = encodeMessage({
      token: 'XYZ-ABC',
      seq: 9,
      account: '1234',
      line: '1',
      data: 'x',
      time: null,
    });
    const header = readDc09Frame(bytes);
    if (!header.ok) throw new Error(header.problem);
    expect(dc09Duh(header.value, '1234').toString('latin1').slice(9, -1)).toBe('"DUH"0009L1#1234[]');
  });

  it('replays the published messages into ioBroker.sia too: it reads every one', () => {
    for (const message of publicMessages.filter((candidate) => candidate.says.token !== 'NULL')) {
      const receiver = iobroker([
        message.key === undefined
          ? { accountnumber: message.account, aes: false, hex: false }
          : { accountnumber: message.account, aes: true, hex: false, password: message.key.value },
      ]);
      const parsed = receiver.parseSIA(Buffer.from(message.bytes, 'latin1'));
      expect(parsed.data_message.endsWith(message.says.data)).toBe(true);
    }
  });
});

describe('ioBroker.sia’s own TCP and UDP listeners take the simulator’s reports over loopback, and it their ACKs', () => {
  const quiet = { info: () => undefined, debug: () => undefined, error: () => undefined };
  const key = Buffer.from('000102030405060708090A0B0C0D0E0F', 'hex');

  for (const transport of ['tcp', 'udp'] as const) {
    it(`${transport}: Contact ID in the clear and SIA DCS with AES-128 from two panels`, async () => {
      // Its UDP port and TCP port are chosen apart (port 0): it binds each with the port it is given.
      const receiver = new IobrokerReceiver({
        port: 0,
        host: '127.0.0.1',
        timeout: 20,
        sockend: true,
        logger: quiet,
      });
      receiver.setAccounts([
        { accountnumber: 'A1020', aes: false, hex: false },
        { accountnumber: 'B1303', aes: true, hex: true, password: key.toString('hex') },
      ]);
      const heard: ReturnType<IobrokerSia['parseSIA']>[] = [];
      receiver.on('sia', (parsed) => {
        if (parsed !== undefined) heard.push(parsed);
      });
      let port: number;
      if (transport === 'tcp') {
        receiver.serverudp.close();
        receiver.serverStartTCP();
        await new Promise((resolve) => setTimeout(resolve, 50));
        port = receiver.servertcp.address()?.port ?? 0;
      } else {
        receiver.serverStartUDP();
        await new Promise((resolve) => setTimeout(resolve, 50));
        port = receiver.serverudp.address().port;
      }
      const options = { host: '127.0.0.1', port, transport, answerTimeoutMs: 2_000, retries: 0 } as const;
      const pillar = new AlarmPanelSimulator({ ...options, account: 'A1020' });
      const panel = new AlarmPanelSimulator({ ...options, account: 'B1303', key, protocol: 'SIA-DCS' });
      try {
        const alarm = await pillar.alarm(3);
        const panic = await panel.alarm(1, 'panic');
        expect(alarm.answer).toMatchObject({
          kind: 'ACK',
          encrypted: false,
          seq: '0001',
          account: 'A1020',
          intact: true,
        });
        expect(panic.answer).toMatchObject({
          kind: 'ACK',
          encrypted: true,
          seq: '0001',
          account: 'B1303',
          intact: true,
        });
        expect(heard.map((parsed) => [parsed.id, parsed.act, parsed.data_message])).toEqual([
          ['ADM-CID', 'A1020', '#A1020|1130 01 003'],
          ['*SIA-DCS', 'B1303', '#B1303|Nri1/PA001'],
        ]);
      } finally {
        await pillar.stop();
        await panel.stop();
        if (transport === 'tcp') receiver.servertcp.close();
        else receiver.serverudp.close();
      }
    });
  }
});
