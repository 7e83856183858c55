/**
 * Real ADMS payloads from public sources, each with where it was read. They are replayed over real HTTP against the
 * hub (test/integration/zkteco-adms.test.ts), read and decoded through the adapter, and written again by the
 * simulator byte for byte (test/devices/zkteco-adms.fixtures.test.ts). No npm or Debian package implements ADMS
 * (neither a server nor a terminal emulator), so these stand for "an implementation we did not write".
 *
 * Sources:
 * - ATTENDANCE_PUSH: ZKTeco, "Attendance PUSH Communication Protocol" (PUSH SDK, protocol 2.4.x),
 *   https://www.scribd.com/document/849141738/Attendance-PUSH-Communication-Protocol-20240712-1 — the request and
 *   answer examples of §3.5 (initialisation), §7 (getrequest with INFO), §11 (devicecmd).
 * - SECURITY_PUSH: ZKTeco, "Security PUSH Communication Protocol" (protocol 3.1.2),
 *   https://pdfcoffee.com/securitypushcommunicationprotocol-pdf-free.html — the rtlog and rtstate record formats.
 * - THAI_ZKT: kittiu/thai_zkt, an open-source ADMS server (Frappe),
 *   https://github.com/kittiu/thai_zkt/blob/HEAD/thai_zkt/www/iclock/push_protocol_2.py — its option block and
 *   `OK:<n>` answers.
 * - PUBLIC_SERVER_TESTS: record lines as public ADMS servers' test suites and integration guides on GitHub give
 *   them (rtlog of a SpeedFace/SenseFace terminal, ATTLOG of K40/F22 terminals); the search index that found them
 *   does not name their repositories, so each is also checked against the vendor format above.
 */

export const sources = {
  ATTENDANCE_PUSH:
    'https://www.scribd.com/document/849141738/Attendance-PUSH-Communication-Protocol-20240712-1',
  SECURITY_PUSH: 'https://pdfcoffee.com/securitypushcommunicationprotocol-pdf-free.html',
  THAI_ZKT: 'https://github.com/kittiu/thai_zkt/blob/HEAD/thai_zkt/www/iclock/push_protocol_2.py',
  PUBLIC_SERVER_TESTS: 'public ADMS servers’ tests on GitHub (repository not named by the search index)',
  C3_CODES: 'https://github.com/vwout/zkaccess-c3-py/blob/HEAD/c3/consts.py',
} as const;

/** The serial number of the vendor's examples: the replay provisions a device with it. */
export const vendorSerial = '0316144680030';

export interface RequestPayload {
  readonly name: string;
  readonly source: string;
  readonly method: 'GET' | 'POST';
  /** Path and query, as the terminal sends them. */
  readonly path: string;
  readonly body?: string;
}

/** Whole requests of the vendor's document, replayed verbatim. */
export const requests = {
  registration: {
    name: 'initialisation (options=all) of an attendance terminal',
    source: `${sources.ATTENDANCE_PUSH} §3.5`,
    method: 'GET',
    path: `/iclock/cdata?SN=${vendorSerial}&options=all&pushver=2.2.14&language=83&pushcommkey=4a9594af164f2b9779b59e8554b5df26`,
  },
  pollWithInfo: {
    name: 'getrequest carrying the terminal’s INFO',
    source: `${sources.ATTENDANCE_PUSH} §7`,
    method: 'GET',
    path: `/iclock/getrequest?SN=${vendorSerial}&INFO=Ver%202.0.12-20150625,0,0,0,192.168.16.27,10,7,15,0,111`,
  },
  commandResults: {
    name: 'devicecmd results of commands the hub never sent',
    source: `${sources.ATTENDANCE_PUSH} §11`,
    method: 'POST',
    path: `/iclock/devicecmd?SN=${vendorSerial}`,
    body: 'ID=info8487&Return=0&CMD=DATA\nID=info8488&Return=0&CMD=DATA\nID=info8489&Return=0&CMD=DATA\n',
  },
} as const satisfies Record<string, RequestPayload>;

/** The keys of the vendor's option block example (§3.5) and thai_zkt's: the hub's answer gives each. */
export const optionBlockKeys = [
  'ATTLOGStamp',
  'OPERLOGStamp',
  'ErrorDelay',
  'Delay',
  'TransTimes',
  'TransInterval',
  'TransFlag',
  'TimeZone',
  'Realtime',
  'Encrypt',
  'ServerVer',
  'PushProtVer',
] as const;

export interface RecordPayload {
  readonly name: string;
  readonly source: string;
  readonly table: 'rtlog' | 'rtstate' | 'ATTLOG' | 'OPERLOG';
  /** The line's exact bytes. */
  readonly line: string;
}

export const records = {
  rtlogUnregisteredCard: {
    name: 'rtlog: a face terminal refuses an unregistered credential (event 27)',
    source: `${sources.PUBLIC_SERVER_TESTS}; format ${sources.SECURITY_PUSH}`,
    table: 'rtlog',
    line: 'time=2024-03-15 08:30:00\tpin=1001\tcardno=0\teventaddr=1\tevent=27\tinoutstatus=1\tverifytype=15\tindex=21',
  },
  rtlogMultiCardOpen: {
    name: 'rtlog of a SenseFace 3A with the newer fields (site code, mask, temperature): event 3, an opening',
    source: `${sources.PUBLIC_SERVER_TESTS}; format ${sources.SECURITY_PUSH}`,
    table: 'rtlog',
    line: 'time=2026-02-23 14:13:48\tpin=2\tcardno=0\teventaddr=1\tevent=3\tinoutstatus=0\tverifytype=15\tindex=140\tsitecode=0\tlinkid=0\tmaskflag=0\ttemperature=0\tconvtemperature=0',
  },
  rtstate: {
    name: 'rtstate of the same SenseFace 3A: door closed, relay off, no alarm',
    source: `${sources.PUBLIC_SERVER_TESTS}; format ${sources.SECURITY_PUSH}`,
    table: 'rtstate',
    line: 'time=2026-02-23 14:13:48\tsensor=01\trelay=00\talarm=0000000000000000\tdoor=01',
  },
  attlogShort: {
    name: 'ATTLOG of an F22 terminal: pin, time, state, verify',
    source: `${sources.PUBLIC_SERVER_TESTS}; format ${sources.ATTENDANCE_PUSH} §9.1`,
    table: 'ATTLOG',
    line: '9999\t2026-08-12 08:53:23\t0\t1',
  },
  attlogWithWorkcode: {
    name: 'ATTLOG of a K40 terminal with its work code',
    source: `${sources.PUBLIC_SERVER_TESTS}; format ${sources.ATTENDANCE_PUSH} §9.1`,
    table: 'ATTLOG',
    line: '78979877\t2026-07-11 10:15:00\t0\t1\t0',
  },
} as const satisfies Record<string, RecordPayload>;
