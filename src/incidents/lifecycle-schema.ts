import { z } from 'zod';
import type { LifecycleLimits } from './lifecycle.ts';

/** `lifecycle` in the configuration: the bounds of 延期 (extensions) and 挂账 (suspensions), #25. */
export const lifecycleSchema = z.strictObject({
  maxExtensions: z
    .number()
    .int()
    .min(0)
    .max(10)
    .default(2)
    .describe('How many extensions (延期) a case may have approved; 0 turns requests off.'),
  maxExtensionHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(24 * 7)
    .describe('How far past the current deadline one extension may ask, in hours.'),
  maxSuspensionDays: z
    .number()
    .int()
    .min(1)
    .max(366)
    .default(90)
    .describe('How far ahead a suspension’s (挂账) review date may be, in days.'),
  approval: z
    .strictObject({
      publicNoticeDays: z
        .number()
        .int()
        .min(0)
        .max(30)
        .default(5)
        .describe(
          'How long 公示 lasts after an approval chain’s last approval, in days (0: none); the case is dispatched after it.',
        ),
    })
    .default({ publicNoticeDays: 5 })
    .describe('需要审批: the approval chain’s public notice (公示).'),
});

/**
 * `departments` in the configuration: the departments a case may be handed to for coordination (城管, 市场监管,
 * 派出所), each with the ids of its users. A department user is a configured user of the role `department`, scoped
 * to the places the department serves: they see a case once it is handed to them, and nothing else.
 */
export const departmentSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .describe('Stable id, e.g. chengguan.'),
  name: z.string().min(1).max(100).describe('As shown, e.g. 城管.'),
  userIds: z
    .array(z.string().min(1).max(64))
    .min(1)
    .max(200)
    .describe('Its users (users[].id, of the role department).'),
});

export const departmentsSchema = z
  .array(departmentSchema)
  .max(200)
  .superRefine((departments, context) => {
    const seen = new Map<string, string>();
    for (const [index, department] of departments.entries()) {
      if (departments.findIndex((other) => other.id === department.id) !== index)
        context.addIssue({
          code: 'custom',
          message: `department ${department.id} is listed twice`,
          path: [index],
        });
      for (const userId of department.userIds) {
        const other = seen.get(userId);
        if (other !== undefined && other !== department.id)
          context.addIssue({
            code: 'custom',
            message: `user ${userId} belongs to both ${other} and ${department.id}: a hand-off must name one`,
            path: [index, 'userIds'],
          });
        seen.set(userId, department.id);
      }
    }
  });

export type LifecycleConfig = z.infer<typeof lifecycleSchema>;
export type DepartmentDescription = z.infer<typeof departmentSchema>;

export function lifecycleLimitsOf(config: LifecycleConfig): LifecycleLimits {
  return {
    maxExtensions: config.maxExtensions,
    maxExtensionMs: config.maxExtensionHours * 3_600_000,
    maxSuspensionMs: config.maxSuspensionDays * 86_400_000,
    publicNoticeMs: config.approval.publicNoticeDays * 86_400_000,
  };
}

/** The department of each department user. */
export function departmentOfUser(
  departments: readonly DepartmentDescription[],
): (userId: string) => string | undefined {
  const byUser = new Map(
    departments.flatMap((department) => department.userIds.map((id) => [id, department.id] as const)),
  );
  return (userId) => byUser.get(userId);
}
