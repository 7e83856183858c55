/**
 * SIA DC-09 messages from public sources, byte for byte as published (LF and CR added where the source shows the
 * message without them), each with where it came from and what it says. Only messages whose CRC and length are
 * right are here: several published samples have a wrong CRC or a length in decimal, which a receiver must refuse
 * (two are kept below as such). Tests replay them over TCP and UDP against the hub (the hub's clock set to the
 * message's own time where it has one), and check that the simulator, given the same inputs, writes the same bytes.
 */
export interface PublicMessage {
  readonly name: string;
  /** The message as sent, LF to CR. */
  readonly bytes: string;
  readonly provenance: string;
  /** The panel's account, and its key when the message is encrypted (as the source gives it). */
  readonly account: string;
  readonly key?: { readonly value: string; readonly encoding: 'hex' | 'text' };
  /** What the message says, for the simulator to say it again; the pad of an encrypted message in hex. */
  readonly says: {
    readonly token: 'ADM-CID' | 'SIA-DCS' | 'NULL';
    readonly seq: number;
    readonly receiver?: string;
    readonly line: string;
    readonly data: string;
    /** Epoch ms of its timestamp, or null when it has none. */
    readonly time: number | null;
    readonly padHex?: string;
    /** The ciphertext was written in lowercase hexadecimal. */
    readonly lowercaseHex?: boolean;
  };
  /** The normalized events the adapter decodes it to (none for NULL), type and attributes. */
  readonly events: readonly { readonly type: string; readonly attributes: Record<string, unknown> }[];
}

export const publicMessages: readonly PublicMessage[] = [
  {
    name: 'SIA DCS untyped zone trouble in the clear (ioBroker.sia test data)',
    bytes:
      '\nD3A10095"SIA-DCS"0005L0#12345[#12345|Nri0000pi0006da10-25-18ti14:37:53UT0000^$PR,SCOMPARSA          ,Centrale,Zona1,ROtTe.6MyLittlPoint^]_12:37:53,10-25-2018\r',
    provenance:
      'github.com/schmupu/ioBroker.sia, test/siaCommand (commit 30d037c92e74296c23b8a0d69848f02e7fef4120): a message the adapter author replays with netcat against the receiver; account 12345.',
    account: '12345',
    says: {
      token: 'SIA-DCS',
      seq: 5,
      line: '0',
      data: 'Nri0000pi0006da10-25-18ti14:37:53UT0000^$PR,SCOMPARSA          ,Centrale,Zona1,ROtTe.6MyLittlPoint^',
      time: Date.UTC(2018, 9, 25, 12, 37, 53),
    },
    events: [{ type: 'panel.trouble', attributes: { code: 'UT' } }],
  },
  {
    name: 'SIA DCS untyped zone trouble, AES-128 (ioBroker.sia test data)',
    bytes:
      '\nAEAE0137"*SIA-DCS"0018L0#12345[4cea0b8eb4752a51724c2c55f3801a6e35cb21d25e014290c29995e7cdbbb4659747c1e185c3627db922513d6d5cbb33440d09eefa204e96d62c9c9fc6ffaa5abeccfce859dd540f74cba79c04a048a9b597c12b027f6366a3817d1dd6e26e2019d33075a67ab4a74221f57450070a7f0de890d087c64e76db6893c192ef5e16762ef9934bbfc516d041ad71c47d4dd0\r',
    provenance:
      'github.com/schmupu/ioBroker.sia, test/siaCommandENC (commit 30d037c92e74296c23b8a0d69848f02e7fef4120), key "0123456789ABCDEF" (test/siatest.txt: "password encrypt"), account 12345. Its pad is 16 binary bytes.',
    account: '12345',
    key: { value: '0123456789ABCDEF', encoding: 'text' },
    says: {
      token: 'SIA-DCS',
      seq: 18,
      line: '0',
      data: 'Nri0000pi0006da10-26-18ti09:50:24UT0000^$PR,SCOMPARSA          ,Centrale,Zona1,ROtTe.6MyLittlPoint^',
      time: Date.UTC(2018, 9, 26, 7, 50, 26),
      padHex: 'adb007c4dc531fc9a04cdab6db7034ea',
      lowercaseHex: true,
    },
    events: [{ type: 'panel.trouble', attributes: { code: 'UT' } }],
  },
  {
    name: 'NULL supervision, AES-128 (pysiaalarm test case)',
    bytes:
      '\n76D80055"*NULL"0000R0L0#AAAB[B4BC8B40D0E6D959D6BEA78E88CC0B2155741A3C44FBB96D476A3E557CAD64D9\r',
    provenance:
      'github.com/eavanvalkenburg/pysiaalarm, tests/test_sia_package_cases.py, EventParsing.case_null (commit 02f0d24ed0806c52d0d67c5c31823975032ed637); key "AAAAAAAAAAAAAAAA" (tests/encrypted_config.json). Decrypts to eleven "p" and "]_18:24:52,07-05-2020".',
    account: 'AAAB',
    key: { value: 'AAAAAAAAAAAAAAAA', encoding: 'text' },
    says: {
      token: 'NULL',
      seq: 0,
      receiver: '0',
      line: '0',
      data: '',
      time: Date.UTC(2020, 6, 5, 18, 24, 52),
      padHex: '7070707070707070707070',
    },
    events: [],
  },
  {
    name: 'Contact ID remote arm/disarm, opening by user 1 (a Node.js DC-09 listener)',
    bytes: '\nF92F0043"ADM-CID"0020R7896L7896#3456[#3456|1407 00 001]_17:01:14,07-26-2024\r',
    provenance:
      'A public GitHub Node.js receiver of alarm panels (a commented sample of what its panels sent, beside the NULL below), found through a code search of public repositories (index file 32635044335); account 3456, receiver 7896, line 7896.',
    account: '3456',
    says: {
      token: 'ADM-CID',
      seq: 20,
      receiver: '7896',
      line: '7896',
      data: '1407 00 001',
      time: Date.UTC(2024, 6, 26, 17, 1, 14),
    },
    events: [{ type: 'panel.disarmed', attributes: { code: '407', user: 1 } }],
  },
  {
    name: 'NULL supervision in the clear (the same Node.js DC-09 listener)',
    bytes: '\nD730002F"NULL"0000R7896L7896#3456[]_17:01:26,07-26-2024\r',
    provenance: 'The same file as the Contact ID sample above, twelve seconds later.',
    account: '3456',
    says: {
      token: 'NULL',
      seq: 0,
      receiver: '7896',
      line: '7896',
      data: '',
      time: Date.UTC(2024, 6, 26, 17, 1, 26),
    },
    events: [],
  },
  {
    name: 'Contact ID periodic test report with system trouble, no timestamp (a Python DC-09 test client)',
    bytes: '\n9EC40027"ADM-CID"0001L0#1002[#1002|1602 00 001]\r',
    provenance:
      'A public GitHub Python client that sends sample panel messages to a DC-09 receiver (ex_data_1), found through a code search of public repositories (index file 48377146127); account 1002.',
    account: '1002',
    says: { token: 'ADM-CID', seq: 1, line: '0', data: '1602 00 001', time: null },
    events: [{ type: 'panel.test', attributes: { code: '602', zone: 1 } }],
  },
  {
    name: 'Contact ID communication trouble restored, no timestamp (the same Python client)',
    bytes: '\n75140027"ADM-CID"0001L0#1002[#1002|3354 00 004]\r',
    provenance: 'The same file as above (ex_data_2).',
    account: '1002',
    says: { token: 'ADM-CID', seq: 1, line: '0', data: '3354 00 004', time: null },
    events: [{ type: 'panel.trouble_restored', attributes: { code: '354', zone: 4 } }],
  },
];

/** Published messages a receiver must refuse, kept to show that it does. */
export const publicMalformedMessages: readonly {
  readonly name: string;
  readonly bytes: string;
  readonly provenance: string;
}[] = [
  {
    name: 'Contact ID closing whose length is written in decimal (0047 for 47 bytes, 0x2F)',
    bytes: '\n57150047"ADM-CID"0247R4F39L4F39#4F39[#4F39|3401 01 057]\r',
    provenance:
      'github.com/eavanvalkenburg/pysiaalarm, tests/test_sia_package_cases.py, case_adm_cid2 (an older revision): the CRC is right, the length is not.',
  },
  {
    name: 'SIA DCS water alarm with a CRC that does not match',
    bytes: '\nC4160279"SIA-DCS"5268L0#AAA[Nri1/WA000]_08:40:47,07-08-2020\r',
    provenance:
      "github.com/eavanvalkenburg/pysiaalarm, tests/test_sia_package_cases.py, case_wa (commit 02f0d24ed0806c52d0d67c5c31823975032ed637): the test itself records calc_crc E9A4 against the message's C416.",
  },
];
