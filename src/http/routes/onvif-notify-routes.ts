import type { FastifyPluginAsync } from 'fastify';
import type { NotifyVerdict, OnvifSessions } from '../../cameras/sessions/onvif-sessions.ts';

export interface OnvifNotifyRoutesOptions {
  readonly cameras: Pick<OnvifSessions, 'notify' | 'refuseOversizedNotify'>;
  /** The most a Notify may take (`cameras.notifyMaxBytes`). */
  readonly notifyMaxBytes: number;
}

/** What each verdict answers: a camera retries nothing on 4xx, and a 2xx goes out only once committed. */
const statusOf: Record<NotifyVerdict, number> = { accepted: 200, unknown_consumer: 404, malformed: 400 };

/**
 * The consumer endpoint of Basic Notification subscriptions [WS-BaseNotification 3; ONVIF Core 9.2]: cameras that
 * offer no PullPoint POST their Notify to `/onvif/notify/<token>`, the address the hub gave in Subscribe. No bearer
 * token (a camera cannot present one): the unguessable path token of the subscription is the credential. Any
 * content type is read as text within its own body limit; what is refused is counted and dead-lettered by the
 * ingest. Devices' SOAP, not the operators' API: left out of /docs.
 */
export const onvifNotifyRoutes: FastifyPluginAsync<OnvifNotifyRoutesOptions> = async (app, options) => {
  const { cameras, notifyMaxBytes } = options;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: notifyMaxBytes }, (_request, body, done) =>
    done(null, body),
  );
  // Too large: refused before it is read, and counted like the rest.
  app.addHook('onError', async (request, _reply, error) => {
    if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      await cameras.refuseOversizedNotify(Number(request.headers['content-length'] ?? 0) || notifyMaxBytes);
  });

  app.post<{ Params: { token: string } }>(
    '/:token',
    { bodyLimit: notifyMaxBytes, schema: { hide: true } },
    async (request, reply) => {
      const receivedAt = performance.now();
      const body = typeof request.body === 'string' ? request.body : '';
      const verdict = await cameras.notify(request.params.token, body, receivedAt);
      return reply.code(statusOf[verdict]).send();
    },
  );
};
