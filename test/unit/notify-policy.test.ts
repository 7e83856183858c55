import { describe, expect, it } from 'vitest';
import type { Incident } from '../../src/core/incident.ts';
import { baselineOf, factsOf, stillAsked } from '../../src/notify/ask-reasons.ts';
import {
  type AskView,
  afterQuietHours,
  askOver,
  BundleWindow,
  type CaseView,
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
  return {
    state: 'dispatched',
    handler: null,
    severity: 'critical',
    acknowledgements: [],
    assignees: ['worker-1'],
    responsibleNodeId: 'grid-1',
    ...overrides,
  };
}

const asked = (at: number, overrides: Partial<AskView> = {}): AskView => ({
  userId: 'worker-1',
  reason: 'dispatched',
  askedAt: at,
  baseline: [],
  ...overrides,
});

/** Asked for `reason` on `incident`, with the facts holding then as the baseline (as the notifier keeps it). */
function askedOn(incident: CaseView, reason: AskView['reason'], overrides: Partial<AskView> = {}): AskView {
  const ask = asked(noon, { reason, ...overrides });
  return { ...ask, baseline: factsOf(incident, ask) };
}

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

  it('does not let a fact that held when asked end a step: an escalation of a case in hand, its centre acknowledging', () => {
    const inHand = incident({ state: 'accepted', handler: 'worker-1', responsibleNodeId: 'community-1' });
    const supervising = askedOn(inHand, 'escalated', { userId: 'officer-1', nodeId: 'community-1' });
    expect(supervising.baseline).toEqual(['taken']);
    // Taken before the officer was asked: the until-accepted SMS still runs for the officer.
    expect(nextStep(escalating, supervising, inHand, 1, 0, context)?.index).toBe(1);
    expect(nextStep(escalating, supervising, inHand, 2, 0, context)?.index).toBe(2);
    // Their centre acknowledging ends the until-acknowledged call, though the case was in hand already.
    const acknowledged = {
      ...inHand,
      acknowledgements: [{ nodeId: 'community-1', userId: 'officer-1', at: new Date(noon).toISOString() }],
    };
    expect(askOver(escalating, supervising, acknowledged, 2)).toBe(true);
    expect(askOver(escalating, supervising, acknowledged, 1)).toBe(false);
  });

  it("ends a rework's until-accepted steps once the handler acts on it again: on site, or resolved", () => {
    const reworked = incident({ state: 'accepted', handler: 'worker-1' });
    const rework = askedOn(reworked, 'rework');
    // Sent back to the handler who had accepted: the case still "has a handler", which is no answer to the rework.
    expect(rework.baseline).toEqual(['taken']);
    expect(nextStep(escalating, rework, reworked, 1, 0, context)).toEqual({
      index: 1,
      dueAt: noon + 120 * second,
    });
    // Back on site: accepted and acknowledged are reached for a rework.
    const onSite = { ...reworked, state: 'on_site' as const };
    expect(askOver(escalating, rework, onSite, 0)).toBe(true);
    // Resolved again without going out (a photo attached): every step ends.
    expect(askOver(escalating, rework, { ...reworked, state: 'resolved' }, 0)).toBe(true);
    // The same case on site, for a worker dispatched to it before it was taken: accepted was reached long ago.
    expect(askOver(escalating, asked(noon), onSite, 0)).toBe(true);
  });

  it("ends a coordinator's steps when their part is done or the case ends, whatever the handler does", () => {
    const handed = incident({
      state: 'accepted',
      handler: 'worker-1',
      coordinators: [
        { userId: 'dept-1', departmentId: 'chengguan', at: new Date(noon).toISOString(), note: '清运' },
      ],
    });
    const coordinator = askedOn(handed, 'handed_off', { userId: 'dept-1' });
    expect(coordinator.baseline).toEqual(['taken']);
    expect(nextStep(escalating, coordinator, handed, 0, 0, context)).toEqual({ index: 0, dueAt: noon });
    // The handler arriving is not the department's part.
    expect(nextStep(escalating, coordinator, { ...handed, state: 'on_site' }, 1, 0, context)?.index).toBe(1);
    const done = {
      ...handed,
      coordinators: [{ ...handed.coordinators?.[0], doneAt: new Date(noon).toISOString() }],
    } as CaseView;
    expect(askOver(escalating, coordinator, done, 0)).toBe(true);
    expect(askOver(escalating, coordinator, { ...handed, state: 'cancelled' }, 0)).toBe(true);
    // Still the one asked while named among the coordinators; another department user is not.
    expect(stillAsked.handed_off(done, coordinator)).toBe(true);
    expect(stillAsked.handed_off(handed, { userId: 'dept-2' })).toBe(false);
  });

  it('reads a baseline kept as milestones (an earlier version) as the facts that ran the same steps', () => {
    const legacy = baselineOf(['accepted', 'acknowledged']);
    expect(legacy).toEqual(['taken', 'centreAcknowledged']);
    const inHand = incident({ state: 'accepted', handler: 'worker-1', responsibleNodeId: 'community-1' });
    // An officer asked at a centre the case in hand climbed to: the SMS runs on, as before the upgrade.
    const officer = asked(noon, {
      reason: 'escalated',
      userId: 'officer-1',
      nodeId: 'community-1',
      baseline: legacy,
    });
    expect(nextStep(escalating, officer, inHand, 1, 0, context)?.index).toBe(1);
    // A rework kept then is read as a rework now: back on site ends it.
    const rework = asked(noon, { reason: 'rework', baseline: legacy });
    expect(askOver(escalating, rework, inHand, 0)).toBe(false);
    expect(askOver(escalating, rework, { ...inHand, state: 'on_site' }, 0)).toBe(true);
    expect(baselineOf(['taken', 'onSite'])).toEqual(['taken', 'onSite']);
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
