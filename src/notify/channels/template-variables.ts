import { z } from 'zod';
import type { Notification } from '../channel.ts';

/**
 * SMS providers send only approved templates: the operator maps each variable of theirs to a field of the
 * notification. Each value is cut to `maxLength` characters, since providers refuse longer variables (Alibaba
 * Cloud: 35 for most templates).
 */
export const notificationFieldNames = ['title', 'body', 'url', 'severity', 'incidentId', 'count'] as const;
type NotificationField = (typeof notificationFieldNames)[number];

export const templateVariablesSchema = z
  .strictObject({
    map: z
      .record(z.string().regex(/^[A-Za-z0-9_]{1,32}$/), z.enum(notificationFieldNames))
      .default({ title: 'title', url: 'url' })
      .describe(
        "The template's variables, each from a field: title, body, url, severity, incidentId, count.",
      ),
    maxLength: z.number().int().min(1).max(500).default(35),
  })
  .default({ map: { title: 'title', url: 'url' }, maxLength: 35 });
export type TemplateVariables = z.infer<typeof templateVariablesSchema>;

const fieldValue: Record<NotificationField, (notification: Notification) => string> = {
  title: (notification) => notification.title,
  body: (notification) => notification.body,
  url: (notification) => notification.url,
  severity: (notification) => notification.severity,
  incidentId: (notification) => notification.incidentIds[0] ?? '',
  count: (notification) => String(notification.incidentIds.length),
};

/** The template's variables as the notification fills them, each cut to length. */
export function notificationFields(
  notification: Notification,
  variables: TemplateVariables,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables.map).map(([name, from]) => [
      name,
      [...fieldValue[from](notification)].slice(0, variables.maxLength).join(''),
    ]),
  );
}
