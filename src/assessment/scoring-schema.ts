import { z } from 'zod';

/**
 * One rule of the 千分制: how many points each counted item is worth, and the most a category may add or take in a
 * month (so one bad week does not sink a whole month, and volume alone cannot buy a score). 0 turns a rule off.
 */
const pointsRule = (points: number, cap: number, what: string) =>
  z
    .strictObject({
      points: z.number().min(0).max(1000).default(points).describe(`Points per ${what}.`),
      cap: z
        .number()
        .min(0)
        .max(10_000)
        .default(cap)
        .describe('The most this rule may add or deduct in one month; 0: no cap.'),
    })
    .default({ points, cap });

/**
 * `assessment` in the configuration: the monthly assessment's scoring (千分制考核, #25 point 6). 方案4 puts grid
 * workers under a 千分制 whose rules are "另行制定": every number here is the deployment's to set; the defaults are a
 * reasonable start (see docs/assessment.md).
 */
export const assessmentSchema = z
  .strictObject({
    baseScore: z
      .number()
      .min(0)
      .max(100_000)
      .default(1000)
      .describe('The score every grid and worker starts the month with (1000 for 千分制).'),
    floor: z.number().min(0).max(100_000).default(0).describe('No score goes below this.'),
    points: z
      .strictObject({
        onTimeClosure: pointsRule(2, 100, 'case resolved within its resolve deadline'),
        foundOnPatrol: pointsRule(3, 100, "case the worker reported from the field (people's cases)"),
        patrolCompleted: pointsRule(1, 50, 'day whose patrol was completed'),
      })
      .default({
        onTimeClosure: { points: 2, cap: 100 },
        foundOnPatrol: { points: 3, cap: 100 },
        patrolCompleted: { points: 1, cap: 50 },
      }),
    deductions: z
      .strictObject({
        overdueStage: pointsRule(5, 200, 'stage deadline missed (accept, arrive, resolve)'),
        escalation: pointsRule(5, 200, 'escalation of a case to a higher centre'),
        rework: pointsRule(10, 200, 'verification that sent a case back (返工)'),
        missedZeroReport: pointsRule(5, 150, 'day without its zero report (零报告)'),
        missedPatrol: pointsRule(10, 200, 'day whose patrol was missed'),
        supervision: pointsRule(10, 200, 'supervision notice (督办)'),
      })
      .default({
        overdueStage: { points: 5, cap: 200 },
        escalation: { points: 5, cap: 200 },
        rework: { points: 10, cap: 200 },
        missedZeroReport: { points: 5, cap: 150 },
        missedPatrol: { points: 10, cap: 200 },
        supervision: { points: 10, cap: 200 },
      }),
  })
  .describe('The monthly assessment (千分制): base score, points per item, deductions, caps.');

export type AssessmentSettings = z.infer<typeof assessmentSchema>;
export type PointsRuleName = keyof AssessmentSettings['points'];
export type DeductionRuleName = keyof AssessmentSettings['deductions'];
