/**
 * The codes a ZKTeco terminal writes into its ADMS records, as tables. Each table says where it was read; the codes
 * are the vendor's, the meanings in the right-hand column the hub's (which normalized event a code becomes).
 *
 * Provenance:
 * - rtlog `event` codes: ZKTeco's access-control event table, as shipped by the open-source C3 panel library
 *   https://github.com/vwout/zkaccess-c3-py/blob/master/c3/consts.py (EventType; the same numbering as the PullSDK
 *   manual's appendix and the Security PUSH protocol's real-time events: public payloads such as
 *   `event=27` for an unregistered card and `event=0` for a normal verified opening use it).
 * - OPERLOG operation codes and alarm reasons, verify modes, command return values: ZKTeco's "Attendance PUSH
 *   Communication Protocol" (PUSH SDK), appendices 1, 3, 5 and 7,
 *   https://www.scribd.com/document/849141738/Attendance-PUSH-Communication-Protocol-20240712-1 .
 */

/** What a code becomes. `informational` codes are a terminal's bookkeeping: they raise nothing. */
export type RtlogMeaning =
  | { readonly kind: 'granted' }
  | { readonly kind: 'denied'; readonly reason: string }
  | { readonly kind: 'anti_passback' }
  | { readonly kind: 'duress'; readonly method: string }
  | { readonly kind: 'forced_open' }
  | { readonly kind: 'held_open' }
  | { readonly kind: 'remote_opened' }
  | { readonly kind: 'door_opened' }
  | { readonly kind: 'door_closed' }
  | { readonly kind: 'exit_button' }
  | { readonly kind: 'device_started' }
  | { readonly kind: 'aux_input'; readonly state: 'open' | 'shorted' }
  | { readonly kind: 'informational' };

const granted = { kind: 'granted' } as const;
const informational = { kind: 'informational' } as const;
const denied = (reason: string) => ({ kind: 'denied', reason }) as const;

/** rtlog `event` → meaning, with the vendor's name of each code (consts.py EventType). */
export const rtlogEvents: Readonly<
  Record<number, { readonly name: string; readonly meaning: RtlogMeaning }>
> = {
  0: { name: 'Normal Punch Open', meaning: granted },
  1: { name: 'Punch during Normal Open Time Zone', meaning: granted },
  2: { name: 'First Card Normal Open (Punch Card)', meaning: granted },
  3: { name: 'Multi-Card Open (Punching Card)', meaning: granted },
  4: { name: 'Emergency Password Open', meaning: granted },
  5: { name: 'Open during Normal Open Time Zone', meaning: { kind: 'door_opened' } },
  6: { name: 'Linkage Event Triggered', meaning: informational },
  7: { name: 'Cancel Alarm', meaning: informational },
  8: { name: 'Remote Opening', meaning: { kind: 'remote_opened' } },
  9: { name: 'Remote Closing', meaning: informational },
  10: { name: 'Disable Intraday Normal Open Time Zone', meaning: informational },
  11: { name: 'Enable Intraday Normal Open Time Zone', meaning: informational },
  12: { name: 'Open Auxiliary Output', meaning: informational },
  13: { name: 'Close Auxiliary Output', meaning: informational },
  14: { name: 'Press Fingerprint Open', meaning: granted },
  15: { name: 'Multi-Card Open (Press Fingerprint)', meaning: granted },
  16: { name: 'Press Fingerprint during Normal Open Time Zone', meaning: granted },
  17: { name: 'Card plus Fingerprint Open', meaning: granted },
  18: { name: 'First Card Normal Open (Press Fingerprint)', meaning: granted },
  19: { name: 'First Card Normal Open (Card plus Fingerprint)', meaning: granted },
  20: { name: 'Too Short Punch Interval', meaning: denied('too_short_interval') },
  21: { name: 'Door Inactive Time Zone (Punch Card)', meaning: denied('door_inactive_time_zone') },
  22: { name: 'Illegal Time Zone', meaning: denied('out_of_schedule') },
  23: { name: 'Access Denied', meaning: denied('no_permission') },
  24: { name: 'Anti-Passback', meaning: { kind: 'anti_passback' } },
  25: { name: 'Interlock', meaning: denied('interlock') },
  26: { name: 'Multi-Card Authentication (Punching Card)', meaning: informational },
  27: { name: 'Unregistered Card', meaning: denied('unknown_credential') },
  28: { name: 'Opening Timeout', meaning: { kind: 'held_open' } },
  29: { name: 'Card Expired', meaning: denied('expired') },
  30: { name: 'Password Error', meaning: denied('wrong_password') },
  31: { name: 'Too Short Fingerprint Pressing Interval', meaning: denied('too_short_interval') },
  32: { name: 'Multi-Card Authentication (Press Fingerprint)', meaning: informational },
  33: { name: 'Fingerprint Expired', meaning: denied('expired') },
  34: { name: 'Unregistered Fingerprint', meaning: denied('unknown_credential') },
  35: { name: 'Door Inactive Time Zone (Press Fingerprint)', meaning: denied('door_inactive_time_zone') },
  36: { name: 'Door Inactive Time Zone (Exit Button)', meaning: denied('door_inactive_time_zone') },
  37: { name: 'Failed to Close during Normal Open Time Zone', meaning: informational },
  41: { name: 'Verify Type Invalid', meaning: denied('verify_type_invalid') },
  42: { name: 'WG Format Error', meaning: denied('wiegand_format_error') },
  101: { name: 'Duress Password Open', meaning: { kind: 'duress', method: 'password' } },
  102: { name: 'Opened Accidentally', meaning: { kind: 'forced_open' } },
  103: { name: 'Duress Fingerprint Open', meaning: { kind: 'duress', method: 'finger' } },
  200: { name: 'Door Opened Correctly', meaning: { kind: 'door_opened' } },
  201: { name: 'Door Closed Correctly', meaning: { kind: 'door_closed' } },
  202: { name: 'Exit button Open', meaning: { kind: 'exit_button' } },
  203: { name: 'Multi-Card Open (Card plus Fingerprint)', meaning: granted },
  204: { name: 'Normal Open Time Zone Over', meaning: informational },
  205: { name: 'Remote Normal Opening', meaning: { kind: 'remote_opened' } },
  206: { name: 'Device Start', meaning: { kind: 'device_started' } },
  208: { name: 'Door Opened by Superuser', meaning: granted },
  220: { name: 'Auxiliary Input Disconnected', meaning: { kind: 'aux_input', state: 'open' } },
  221: { name: 'Auxiliary Input Shorted', meaning: { kind: 'aux_input', state: 'shorted' } },
  255: { name: 'Current door and alarm status', meaning: informational },
};

/** What an OPERLOG record becomes: by its operation code, and for alarms (operation 3) by the alarm reason. */
export type OperlogMeaning =
  | { readonly kind: 'tamper' }
  | { readonly kind: 'forced_open' }
  | { readonly kind: 'duress' }
  | { readonly kind: 'denied'; readonly reason: string }
  | { readonly kind: 'door_opened' }
  | { readonly kind: 'door_closed' }
  | { readonly kind: 'exit_button' }
  | { readonly kind: 'device_started' }
  | { readonly kind: 'informational' };

/** OPERLOG operation codes that mean something here (appendix 3); every other operation is bookkeeping. */
export const operlogOperations: Readonly<
  Record<number, { readonly name: string; readonly meaning: OperlogMeaning }>
> = {
  0: { name: 'Startup', meaning: { kind: 'device_started' } },
  32: { name: 'Duress alarm', meaning: { kind: 'duress' } },
};

/** The operation code of an alarm, whose reason (appendix 5) says which. */
export const operlogAlarmOperation = 3;

/** OPERLOG alarm reasons (appendix 5). */
export const operlogAlarmReasons: Readonly<
  Record<number, { readonly name: string; readonly meaning: OperlogMeaning }>
> = {
  50: { name: 'Door Close Detected', meaning: { kind: 'door_closed' } },
  51: { name: 'Door Open Detected', meaning: { kind: 'door_opened' } },
  53: { name: 'Out Door Button', meaning: { kind: 'exit_button' } },
  54: { name: 'Door Broken Accidentally', meaning: { kind: 'forced_open' } },
  55: { name: 'Machine Been Broken', meaning: { kind: 'tamper' } },
  58: {
    name: 'Try Invalid Verification',
    meaning: { kind: 'denied', reason: 'repeated_invalid_verification' },
  },
  65535: { name: 'Alarm Cancelled', meaning: informational },
};

/** Verify modes (appendix 7) by the credential they name; a mode not listed is `other`. */
export const verifyModes: Readonly<Record<number, string>> = {
  0: 'any',
  1: 'finger',
  2: 'pin',
  3: 'password',
  4: 'card',
  5: 'finger_or_password',
  6: 'finger_or_card',
  7: 'card_or_password',
  8: 'pin_and_finger',
  9: 'finger_and_password',
  10: 'card_and_finger',
  11: 'card_and_password',
  12: 'finger_password_card',
  13: 'pin_finger_password',
  14: 'pin_finger_or_card_finger',
  15: 'face',
  16: 'face_and_finger',
  17: 'face_and_password',
  18: 'face_and_card',
  19: 'face_finger_card',
  20: 'face_finger_password',
  21: 'vein',
  22: 'vein_and_password',
  23: 'vein_and_card',
  24: 'vein_password_card',
  25: 'palm',
  26: 'palm_and_card',
  27: 'palm_and_face',
  28: 'palm_and_finger',
  29: 'palm_finger_face',
  200: 'other',
};

/** ATTLOG punch states (the terminal's attendance status key). */
export const punchStates: Readonly<Record<number, string>> = {
  0: 'check_in',
  1: 'check_out',
  2: 'break_out',
  3: 'break_in',
  4: 'overtime_in',
  5: 'overtime_out',
};

/** devicecmd `Return` values (appendix 1): why a command failed, in words. */
export const commandReturns: Readonly<Record<number, string>> = {
  0: 'success',
  [-1]: 'parameter error',
  [-2]: 'user photo size mismatch',
  [-3]: 'read/write error',
  [-9]: 'template size mismatch',
  [-10]: 'no such user',
  [-11]: 'invalid fingerprint template format',
  [-12]: 'invalid fingerprint template',
  [-13]: 'command not available',
  [-1001]: 'capacity limit',
  [-1002]: 'not supported by the device',
  [-1003]: 'command timed out on the device',
  [-1004]: 'data inconsistent with the device configuration',
  [-1005]: 'device busy',
  [-1006]: 'data too long',
  [-1007]: 'memory error',
  [-1008]: 'failed to get data from the server',
};
