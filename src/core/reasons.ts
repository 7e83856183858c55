/**
 * Closed lists of why something was refused or ended, each the label values of a counter. They live here, not in
 * the modules that count them, so the metrics registry can name every label up front without importing those
 * modules (which import the registry: a cycle).
 */

/** Why a login failed; labels of `gridhub_login_failures_total`. The caller is told none of them apart. */
export const loginFailureReasons = [
  'unknown_user',
  'wrong_password',
  'no_password',
  'disabled',
  'locked',
] as const;
export type LoginFailureReason = (typeof loginFailureReasons)[number];

/** Where a client authenticates; a label of `gridhub_auth_failures_total` and `gridhub_auth_throttled_total`. */
export const authTransports = ['rest', 'socketio', 'mqtt', 'device_http'] as const;
export type AuthTransport = (typeof authTransports)[number];

/** What a refusal locked: the remote address, or the identity claimed (from any address). */
export const throttleReasons = ['address', 'identity'] as const;
export type ThrottleReason = (typeof throttleReasons)[number];

/** Why a session ended before its time; labels of `gridhub_sessions_ended_total` (with `expired`). */
export const sessionEndReasons = [
  'logout',
  'user_disabled',
  'user_removed',
  'password_changed',
  'expired',
  // A remembered phone revoked (by its owner, an admin, or on reuse of a rotated secret): the sessions it opened end.
  'device_revoked',
] as const;
export type SessionEndReason = (typeof sessionEndReasons)[number];

/** Why a JWT's session was not accepted; labels of `gridhub_session_refusals_total`. */
export const sessionRefusalReasons = ['unknown', 'revoked', 'expired', 'not_owner'] as const;
export type SessionRefusalReason = (typeof sessionRefusalReasons)[number];

/** Why the broker refused a client; labels of `gridhub_mqtt_refusals_total`. */
export const mqttRefusalReasons = [
  'unknown_device',
  'bad_credentials',
  'disabled',
  'client_id_mismatch',
  'publish_denied',
  'subscribe_denied',
  // MQTTS client certificates (#18): none or an unverified one where one is needed; one naming another device.
  'certificate_invalid',
  'certificate_mismatch',
] as const;
export type MqttRefusalReason = (typeof mqttRefusalReasons)[number];
