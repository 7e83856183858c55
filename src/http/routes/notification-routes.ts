import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { channelKinds } from '../../notify/channel.ts';
import type { NotificationService } from '../../notify/notification-service.ts';
import { authenticate } from '../request-guards.ts';
import { list } from '../schemas.ts';

export interface NotificationRoutesOptions {
  /** Absent in a hub built without one (older tests): the status then lists no channel. */
  readonly notifications?: Pick<NotificationService, 'channelStatuses' | 'pending'>;
}

const channelAnswer = z.object({
  id: z.string(),
  kind: z.enum(channelKinds),
  health: z
    .enum(['ok', 'failing', 'credentials_refused'])
    .describe(
      'ok; failing (its last deliveries failed); credentials_refused (the provider refused the credential).',
    ),
  lastError: z.string().optional().describe('The last failure, without secrets or phone numbers.'),
  lastSuccessAt: z.string().optional(),
  lastFailureAt: z.string().optional(),
  inFlight: z.number().int().describe('Deliveries under way on it now.'),
});

/**
 * What operators watch of notifications: `GET /api/notifications/status`, each channel's own account of itself (a
 * wrong provider credential shows as `credentials_refused`) and how many people's steps are pending. Admins and duty
 * officers: the channels are the hub's, not a place's.
 */
export const notificationRoutes: FastifyPluginAsyncZod<NotificationRoutesOptions> = async (app, options) => {
  app.addHook('preHandler', authenticate);
  app.get(
    '/status',
    {
      config: { roles: ['admin', 'duty_officer'] },
      schema: {
        tags: ['operations'],
        summary: "Each notification channel's status and the notifications pending (admins, duty officers)",
        response: { 200: z.object({ pending: z.number().int(), channels: list(channelAnswer) }) },
      },
    },
    async () => ({
      pending: options.notifications?.pending ?? 0,
      channels: options.notifications?.channelStatuses() ?? [],
    }),
  );
};
