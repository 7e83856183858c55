/**
 * Hikvision access controllers' event codes (AccessControllerEvent `majorEventType` / `subEventType`), the ones
 * the hub acts on, each with the normalized event it becomes.
 *
 * Provenance: the codes are Hikvision's own, the macro definitions of NET_DVR_ACS_ALARM_INFO in the HCNetSDK
 * (https://open.hikvision.com/hardware/structures/NET_DVR_ACS_ALARM_INFO.html): the same numbers travel as
 * `majorEventType`/`subEventType` in ISAPI's AccessControllerEvent (decimal there). Cross-checked against the
 * SDK constants as open-source integrations restate them (MAJOR_ALARM 0x1, MAJOR_EXCEPTION 0x2, MAJOR_OPERATION 0x3,
 * MAJOR_EVENT 0x5; MINOR_DOOR_OPEN_ABNORMAL 0x1b, MINOR_DOOR_OPEN_TIMEOUT 0x1c, MINOR_ANTI_SNEAK_FAIL 0x0a,
 * MINOR_TRAILING 0x85, MINOR_STRESS_ALARM 0x40a …). Codes not listed here decode to no event (an ordinary log
 * entry: a remote login, a configuration change).
 */

export const majorTypes = {
  alarm: 0x1,
  exception: 0x2,
  operation: 0x3,
  event: 0x5,
} as const;

export interface AccessCode {
  /** Hikvision's name for the code (its SDK macro), kept in the event for operators and integrators. */
  readonly name: string;
  /** The normalized event type it becomes. */
  readonly type: string;
  /** Fixed attributes the code implies (why access was denied, which part was tampered with). */
  readonly attributes?: Readonly<Record<string, string>>;
}

const { alarm, operation, event } = majorTypes;

/** Keyed `major:minor`, both decimal. */
export const accessCodes: Readonly<Record<string, AccessCode>> = {
  // MAJOR_ALARM
  [`${alarm}:${0x400}`]: { name: 'MINOR_ALARMIN_SHORT_CIRCUIT', type: 'alarm.input' },
  [`${alarm}:${0x401}`]: { name: 'MINOR_ALARMIN_BROKEN_CIRCUIT', type: 'alarm.input' },
  [`${alarm}:${0x403}`]: { name: 'MINOR_ALARMIN_RESUME', type: 'alarm.input_ended' },
  [`${alarm}:${0x404}`]: {
    name: 'MINOR_HOST_DESMANTLE_ALARM',
    type: 'device.tamper',
    attributes: { source: 'enclosure' },
  },
  [`${alarm}:${0x405}`]: {
    name: 'MINOR_HOST_DESMANTLE_RESUME',
    type: 'device.tamper_restored',
    attributes: { source: 'enclosure' },
  },
  [`${alarm}:${0x406}`]: {
    name: 'MINOR_CARD_READER_DESMANTLE_ALARM',
    type: 'device.tamper',
    attributes: { source: 'reader' },
  },
  [`${alarm}:${0x407}`]: {
    name: 'MINOR_CARD_READER_DESMANTLE_RESUME',
    type: 'device.tamper_restored',
    attributes: { source: 'reader' },
  },
  [`${alarm}:${0x40a}`]: { name: 'MINOR_STRESS_ALARM', type: 'alarm.duress' },
  [`${alarm}:${0x40c}`]: {
    name: 'MINOR_CARD_MAX_AUTHENTICATE_FAIL',
    type: 'access.denied',
    attributes: { reason: 'too_many_attempts' },
  },
  [`${alarm}:${0x41c}`]: { name: 'MINOR_EMERGENCY_BUTTON_TRIGGER', type: 'alarm.panic' },
  // MAJOR_OPERATION
  [`${operation}:${0x400}`]: { name: 'MINOR_REMOTE_OPEN_DOOR', type: 'door.remote_opened' },
  // MAJOR_EVENT
  [`${event}:${0x01}`]: {
    name: 'MINOR_LEGAL_CARD_PASS',
    type: 'access.granted',
    attributes: { credentialType: 'card' },
  },
  [`${event}:${0x26}`]: {
    name: 'MINOR_FINGERPRINT_COMPARE_PASS',
    type: 'access.granted',
    attributes: { credentialType: 'fingerprint' },
  },
  [`${event}:${0x4b}`]: {
    name: 'MINOR_FACE_VERIFY_PASS',
    type: 'access.granted',
    attributes: { credentialType: 'face' },
  },
  [`${event}:${0x03}`]: {
    name: 'MINOR_CARD_AND_PSW_FAIL',
    type: 'access.denied',
    attributes: { reason: 'wrong_password' },
  },
  [`${event}:${0x06}`]: {
    name: 'MINOR_CARD_NO_RIGHT',
    type: 'access.denied',
    attributes: { reason: 'no_right' },
  },
  [`${event}:${0x07}`]: {
    name: 'MINOR_CARD_INVALID_PERIOD',
    type: 'access.denied',
    attributes: { reason: 'out_of_schedule' },
  },
  [`${event}:${0x08}`]: {
    name: 'MINOR_CARD_OUT_OF_DATE',
    type: 'access.denied',
    attributes: { reason: 'expired' },
  },
  [`${event}:${0x09}`]: {
    name: 'MINOR_INVALID_CARD',
    type: 'access.denied',
    attributes: { reason: 'unknown_card' },
  },
  [`${event}:${0x4c}`]: {
    name: 'MINOR_FACE_VERIFY_FAIL',
    type: 'access.denied',
    attributes: { reason: 'face_not_matched' },
  },
  [`${event}:${0x98}`]: {
    name: 'MINOR_EMPLOYEE_NO_NOT_EXIST',
    type: 'access.denied',
    attributes: { reason: 'unknown_person' },
  },
  [`${event}:${0x0a}`]: { name: 'MINOR_ANTI_SNEAK_FAIL', type: 'access.anti_passback' },
  [`${event}:${0x0b}`]: { name: 'MINOR_INTERLOCK_DOOR_NOT_CLOSE', type: 'access.interlock' },
  [`${event}:${0x85}`]: { name: 'MINOR_TRAILING', type: 'access.tailgating' },
  [`${event}:${0x19}`]: { name: 'MINOR_DOOR_OPEN_NORMAL', type: 'door.opened' },
  [`${event}:${0x1a}`]: { name: 'MINOR_DOOR_CLOSE_NORMAL', type: 'door.closed' },
  [`${event}:${0x1b}`]: { name: 'MINOR_DOOR_OPEN_ABNORMAL', type: 'door.forced_open' },
  [`${event}:${0x1c}`]: { name: 'MINOR_DOOR_OPEN_TIMEOUT', type: 'door.held_open' },
};
