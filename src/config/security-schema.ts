import { z } from 'zod';
import { isAddressOrRange } from '../http/client-address.ts';

/**
 * The settings of the hub's network edge (#18): TLS on its listeners, and how its HTTP server treats proxies,
 * other origins and its operator pages. File paths are relative to the configuration file.
 */

const filePath = z.string().min(1).max(4096);

export const clientCertificateModes = ['off', 'optional', 'required'] as const;

export const tlsSchema = z.strictObject({
  cert: filePath.describe("The hub's certificate (PEM), with its intermediates after it."),
  key: filePath.describe("The certificate's private key (PEM)."),
  ca: filePath
    .optional()
    .describe("CA certificates (PEM) that sign devices' client certificates; needed for clientCertificates."),
  http: z
    .boolean()
    .default(true)
    .describe('HTTPS on PORT: the API, the pages, Socket.IO (WSS) and MQTT over WebSocket (WSS).'),
  mqtt: z.boolean().default(true).describe('MQTTS on MQTT_PORT (8883 by convention) instead of plain MQTT.'),
  clientCertificates: z
    .enum(clientCertificateModes)
    .default('off')
    .describe(
      "MQTTS mutual TLS. optional: a device may present a certificate signed by ca; required: it must. A device's certificate names its id (subject CN or a DNS SAN), and a CONNECT with another client id is refused; the device still gives its secret.",
    ),
  reloadCheckSeconds: z
    .number()
    .min(0.05)
    .max(24 * 3600)
    .default(60)
    .describe(
      'How often the files are checked for changes; changed files are loaded without a restart (new connections get them).',
    ),
});

export const httpSchema = z.strictObject({
  trustProxy: z
    .union([
      z.boolean(),
      z.number().int().min(1).max(16),
      z.array(z.string().refine(isAddressOrRange, 'must be an IP address or a CIDR range')).min(1),
    ])
    .default(false)
    .describe(
      "Behind a reverse proxy: whose X-Forwarded-For to believe for the client's address (logs, rate limits). true: any (only when nothing reaches the hub but through the proxy); a number: that many proxies in front; a list: the proxies' addresses or CIDR ranges.",
    ),
  corsOrigins: z
    .array(
      z
        .string()
        .regex(
          /^(\*|https?:\/\/[a-z0-9.-]+(:\d{1,5})?)$/,
          'must be an origin (scheme, host and port only, e.g. https://ops.example.org) or "*"',
        ),
    )
    .default([])
    .describe(
      'Origins (https://ops.example.org) whose pages may call the API from a browser; none by default. "*" allows any.',
    ),
  metricsToken: z
    .string()
    .min(16, 'a metrics token needs at least 16 characters')
    .optional()
    .describe(
      "When set, /metrics answers only a bearer of this token (the scraper's) or of an admin's token or session.",
    ),
  protectDocs: z
    .boolean()
    .default(false)
    .describe('/docs (the OpenAPI description and its page) only for a signed-in user.'),
});

export type TlsConfig = z.infer<typeof tlsSchema>;
export type HttpConfig = z.infer<typeof httpSchema>;
