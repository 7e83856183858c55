import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { GuessLimiter } from '../../src/auth/guess-limiter.ts';
import { MetricsRegistry } from '../../src/observability/metrics-registry.ts';
import { LogCapture } from '../helpers/hub.ts';

function limiter(trackedKeys = 100) {
  let now = 1_000_000;
  const logs = new LogCapture();
  const metrics = new MetricsRegistry();
  const guesses = new GuessLimiter({
    limits: {
      perAddress: { maxFailures: 3, windowSeconds: 10, lockoutSeconds: 30 },
      perIdentity: { maxFailures: 5, windowSeconds: 10, lockoutSeconds: 5 },
      trackedKeys,
    },
    metrics,
    logger: pino(logs),
    now: () => now,
  });
  return { guesses, logs, metrics, advance: (ms: number) => (now += ms) };
}

describe('GuessLimiter', () => {
  it('locks an address out at its third failure in the window, for the lockout, then starts counting afresh', () => {
    const { guesses, advance } = limiter();
    guesses.failed('rest', '10.0.0.1', undefined);
    guesses.failed('rest', '10.0.0.1', undefined);
    expect(guesses.refuse('rest', '10.0.0.1', undefined)).toBeUndefined();
    guesses.failed('mqtt', '10.0.0.1', undefined);
    // Every transport: the address is locked, not the transport.
    expect(guesses.refuse('socketio', '10.0.0.1', undefined)).toEqual({
      reason: 'address',
      retryAfterSeconds: 30,
    });
    expect(guesses.refuse('rest', '10.0.0.2', undefined)).toBeUndefined();
    advance(29_500);
    expect(guesses.refuse('rest', '10.0.0.1', undefined)?.retryAfterSeconds).toBe(1);
    advance(500);
    expect(guesses.refuse('rest', '10.0.0.1', undefined)).toBeUndefined();
    guesses.failed('rest', '10.0.0.1', undefined);
    expect(guesses.refuse('rest', '10.0.0.1', undefined)).toBeUndefined();
  });

  it('forgets failures older than the window', () => {
    const { guesses, advance } = limiter();
    guesses.failed('rest', '10.0.0.1', undefined);
    guesses.failed('rest', '10.0.0.1', undefined);
    advance(10_000);
    guesses.failed('rest', '10.0.0.1', undefined);
    guesses.failed('rest', '10.0.0.1', undefined);
    expect(guesses.refuse('rest', '10.0.0.1', undefined)).toBeUndefined();
  });

  it("spares the address an identity last authenticated from: failing in a device's name elsewhere does not mute it", () => {
    const { guesses } = limiter();
    guesses.succeeded('10.0.3.9', 'gate-2');
    for (let n = 1; n <= 5; n++) guesses.failed('mqtt', `10.0.1.${n}`, 'gate-2');
    expect(guesses.refuse('mqtt', '10.0.2.1', 'gate-2')?.reason).toBe('identity');
    expect(guesses.refuse('mqtt', '10.0.3.9', 'gate-2')).toBeUndefined();
    // A later success elsewhere moves where it is known.
    guesses.succeeded('10.0.4.4', 'gate-2');
    expect(guesses.refuse('mqtt', '10.0.3.9', 'gate-2')?.reason).toBe('identity');
  });

  it('locks an identity guessed at from many addresses, and only it', () => {
    const { guesses } = limiter();
    for (let n = 1; n <= 5; n++) guesses.failed('mqtt', `10.0.1.${n}`, 'gate-1');
    expect(guesses.refuse('mqtt', '10.0.2.1', 'gate-1')).toEqual({
      reason: 'identity',
      retryAfterSeconds: 5,
    });
    expect(guesses.refuse('mqtt', '10.0.2.1', 'gate-2')).toBeUndefined();
  });

  it('remembers at most trackedKeys addresses, keeping a locked one over quiet ones', () => {
    const { guesses } = limiter(100);
    for (let n = 0; n < 3; n++) guesses.failed('rest', '10.9.9.9', undefined);
    for (let n = 0; n < 5_000; n++) guesses.failed('rest', `10.1.${n >> 8}.${n & 255}`, undefined);
    expect(guesses.tracked.addresses).toBeLessThanOrEqual(100);
    expect(guesses.refuse('rest', '10.9.9.9', undefined)?.reason).toBe('address');
  });

  it('counts failures and refusals by transport, and logs the address and identity', async () => {
    const { guesses, logs, metrics } = limiter();
    for (let n = 0; n < 3; n++) guesses.failed('socketio', '10.0.0.1', 'officer-a');
    guesses.refuse('socketio', '10.0.0.1', 'officer-a');
    const text = await metrics.text();
    expect(text).toContain('gridhub_auth_failures_total{transport="socketio"} 3');
    expect(text).toContain('gridhub_auth_throttled_total{transport="socketio",reason="address"} 1');
    expect(logs.text).toMatch(/"transport":"socketio","address":"10\.0\.0\.1","identity":"officer-a"/);
  });
});
