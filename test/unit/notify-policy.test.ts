import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import {
  type AskView,
  afterQuietHours,
  askOver,
  BundleWindow,
  type CaseView,
  milestonesOf,
  nextStep,
  type Policy,
  PolicyBook,
} from '../../src/notify/policy.ts';
import { policySchema } from '../../src/notify/policy-schema.ts';

const second = 1000;
const context = { secondMs: second, timeZone: 'Asia/Shanghai' };
/** 2026-12-07 12:00 in Shanghai (04:00 UTC). */
const noon = Date.parse('2026-12-07T12:00:00+08:00');

/** Push at once; SMS after 2 minutes if not accepted; a voice call after 5 minutes if critical and unacknowledged. */
const escalating: Policy = policySchema.parse({
  id: 'workers',
  roles: ['grid_worker'],
  steps: [
    { channel: 'push', afterSeconds: 0, until: 'accepted' },
    { channel: 'sms', afterSeconds: 120, until: 'accepted' },
    { channel: 'voice', afterSeconds: 300, severities: ['critical'], until: 'acknowledged' },
  ],
});

function incident(overrides: Partial<Incident> = {}): CaseView {
  return { state: 'dispatched', handler: null, severity: 'critical', acknowledgements: [], ...overrides };
}

const asked = (at: number, overrides: Partial<AskView> = {}): AskView => ({
  askedAt: at,
  baseline: [],
  ...overrides,
});

describe('which policy a person follows', () => {
  const configured = [
    policySchema.parse({ id: 'workers', roles: ['grid_worker'], steps: [{ channel: 'push' }] }),
    policySchema.parse({ id: 'zhao', users: ['worker-1'], steps: [{ channel: 'sms' }] }),
  ];
  const book = new PolicyBook(configured, 'wecom');

  it("takes the user's own policy over their role's, wherever it stands in the config", () => {
    expect(book.policyFor('worker-1', 'grid_worker')?.id).toBe('zhao');
    expect(book.policyFor('worker-2', 'grid_worker')?.id).toBe('workers');
  });

  it('falls back to the first channel at once when no policy applies, and to none without channels', () => {
    expect(book.policyFor('officer-1', 'duty_officer')).toEqual({
      id: 'default',
      steps: [{ channel: 'wecom', afterSeconds: 0, until: 'accepted' }],
    });
    expect(new PolicyBook(configured, undefined).policyFor('officer-1', 'duty_officer')).toBeUndefined();
  });

  it('refuses a policy that names nobody', () => {
    expect(policySchema.safeParse({ id: 'nobody', steps: [{ channel: 'push' }] }).success).toBe(false);
  });
});

describe('the next step and when it is due', () => {
  it('goes in order, each step at its delay from the ask', () => {
    const ask = asked(noon);
    expect(nextStep(escalating, ask, incident(), 0, 0, context)).toEqual({ index: 0, dueAt: noon });
    expect(nextStep(escalating, ask, incident(), 1, 0, context)).toEqual({
      index: 1,
      dueAt: noon + 120 * second,
    });
    expect(nextStep(escalating, ask, incident(), 2, 0, context)).toEqual({
      index: 2,
      dueAt: noon + 300 * second,
    });
    expect(nextStep(escalating, ask, incident(), 3, 0, context)).toBeUndefined();
  });

  it('skips the steps whose until the case reached: accepted ends the SMS, not the unacknowledged call', () => {
    const accepted = incident({ state: 'accepted', handler: 'worker-1' });
    // Accepted counts as acknowledged too: someone took the case.
    expect(nextStep(escalating, asked(noon), accepted, 1, 0, context)).toBeUndefined();
    expect(askOver(escalating, asked(noon), accepted, 1)).toBe(true);
    const acknowledgedOnly = incident({
      state: 'escalated',
      acknowledgements: [{ nodeId: 'community-1', userId: 'officer-1', at: new Date(noon).toISOString() }],
    });
    const atCentre = asked(noon, { nodeId: 'community-1' });
    expect(nextStep(escalating, atCentre, acknowledgedOnly, 1, 0, context)).toEqual({
      index: 1,
      dueAt: noon + 120 * second,
    });
    expect(nextStep(escalating, atCentre, acknowledgedOnly, 2, 0, context)).toBeUndefined();
    // Another centre's acknowledgement is not this one's.
    expect(
      nextStep(escalating, asked(noon, { nodeId: 'street-1' }), acknowledgedOnly, 2, 0, context)?.index,
    ).toBe(2);
  });

  it('keeps to the severities a step names', () => {
    const major = incident({ severity: 'major' });
    expect(nextStep(escalating, asked(noon), major, 2, 0, context)).toBeUndefined();
    expect(askOver(escalating, asked(noon), major, 2)).toBe(true);
    expect(askOver(escalating, asked(noon), major, 1)).toBe(false);
  });

  it('does not let a milestone reached before the ask end it (a rework goes to a handler who had accepted)', () => {
    const reworked = incident({ state: 'accepted', handler: 'worker-1' });
    const rework = asked(noon, { baseline: milestonesOf(reworked) });
    expect(rework.baseline).toEqual(['accepted', 'acknowledged']);
    expect(nextStep(escalating, rework, reworked, 1, 0, context)).toEqual({
      index: 1,
      dueAt: noon + 120 * second,
    });
    expect(
      nextStep(escalating, rework, incident({ state: 'resolved', handler: 'worker-1' }), 0, 0, context),
    ).toBeUndefined();
  });

  it("puts a step taking a failed one's place at once, a later one no earlier than asked", () => {
    const failedAt = noon + 10 * second;
    expect(nextStep(escalating, asked(noon), incident(), 1, failedAt, context, true)).toEqual({
      index: 1,
      dueAt: failedAt,
    });
    expect(nextStep(escalating, asked(noon), incident(), 1, failedAt, context)).toEqual({
      index: 1,
      dueAt: noon + 120 * second,
    });
    expect(nextStep(escalating, asked(noon), incident(), 1, noon + 200 * second, context)?.dueAt).toBe(
      noon + 200 * second,
    );
  });
});

describe('quiet hours, local times of hub.timezone', () => {
  const quiet = { from: '22:00', to: '07:00', exceptSeverities: ['critical' as const] };
  const quietPolicy: Policy = { ...escalating, quietHours: quiet };
  const at = (local: string) => Date.parse(`${local}+08:00`);

  it('holds a step due across midnight until the quiet hours end, the next morning', () => {
    expect(afterQuietHours(at('2026-12-07T23:30:00'), 'major', quiet, 'Asia/Shanghai')).toBe(
      at('2026-12-08T07:00:00'),
    );
    expect(afterQuietHours(at('2026-12-08T02:15:30'), 'major', quiet, 'Asia/Shanghai')).toBe(
      at('2026-12-08T07:00:00'),
    );
    expect(afterQuietHours(at('2026-12-07T22:00:00'), 'warning', quiet, 'Asia/Shanghai')).toBe(
      at('2026-12-08T07:00:00'),
    );
  });

  it('lets steps outside them, and the excepted severities within them, go at their time', () => {
    expect(afterQuietHours(at('2026-12-08T07:00:00'), 'major', quiet, 'Asia/Shanghai')).toBe(
      at('2026-12-08T07:00:00'),
    );
    expect(afterQuietHours(at('2026-12-07T21:59:00'), 'major', quiet, 'Asia/Shanghai')).toBe(
      at('2026-12-07T21:59:00'),
    );
    expect(afterQuietHours(at('2026-12-07T23:30:00'), 'critical', quiet, 'Asia/Shanghai')).toBe(
      at('2026-12-07T23:30:00'),
    );
  });

  it('reads them in the hub’s zone, not UTC', () => {
    // 23:30 in Shanghai is 15:30 UTC: quiet there, not in UTC.
    expect(afterQuietHours(at('2026-12-07T23:30:00'), 'major', quiet, 'UTC')).toBe(at('2026-12-07T23:30:00'));
  });

  it('holds quiet hours within one day too', () => {
    const lunch = { from: '12:00', to: '13:30', exceptSeverities: [] };
    expect(afterQuietHours(at('2026-12-07T12:10:00'), 'critical', lunch, 'Asia/Shanghai')).toBe(
      at('2026-12-07T13:30:00'),
    );
    expect(afterQuietHours(at('2026-12-07T13:30:00'), 'critical', lunch, 'Asia/Shanghai')).toBe(
      at('2026-12-07T13:30:00'),
    );
  });

  it('moves a step of the policy past them, the excepted critical call not', () => {
    const late = at('2026-12-07T23:00:00');
    const major = incident({ severity: 'major' });
    expect(nextStep(quietPolicy, asked(late), major, 1, 0, context)).toEqual({
      index: 1,
      dueAt: at('2026-12-08T07:00:00'),
    });
    expect(nextStep(quietPolicy, asked(late), incident(), 1, 0, context)).toEqual({
      index: 1,
      dueAt: late + 120 * second,
    });
  });
});

describe('bundling during storms, per person and channel', () => {
  it('lets maxMessages leave within the window, then holds the rest until the window moves on', () => {
    const window = new BundleWindow(3, 60 * second);
    for (const offset of [0, 1, 2]) {
      expect(window.admits(noon + offset * second)).toBe(true);
      window.left(noon + offset * second);
    }
    expect(window.admits(noon + 3 * second)).toBe(false);
    expect(window.admits(noon + 59 * second)).toBe(false);
    // The first message left the window: one more may go alone.
    expect(window.admits(noon + 60 * second)).toBe(true);
    expect(window.idle(noon + 61 * second)).toBe(false);
    expect(window.idle(noon + 62 * second)).toBe(true);
  });
});
