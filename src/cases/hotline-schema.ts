import { z } from 'zod';

/** A 12345 platform that may send work orders (#25 point 2): its key, its secret, where unplaced orders go. */
export const hotlinePlatformSchema = z.strictObject({
  appKey: z
    .string()
    .regex(/^[A-Za-z0-9_-]{4,64}$/)
    .describe('Sent as X-App-Key.'),
  name: z.string().min(1).max(60).describe('e.g. 12345市民服务热线'),
  secret: z
    .string()
    .min(16)
    .max(256)
    .describe('The HMAC-SHA256 key the platform signs with; give a secret reference ({env} or {file}).'),
  intakeGrid: z
    .string()
    .min(1)
    .max(64)
    .describe(
      "The grid an order without a position is filed under: its community's acceptance centre dispatches it.",
    ),
  registeredBy: z
    .string()
    .min(1)
    .max(64)
    .describe("The duty officer's user id an order is registered as (its community's officer)."),
});

export const hotlineSchema = z
  .strictObject({
    platforms: z.array(hotlinePlatformSchema).max(10).default([]),
    categoryCodes: z
      .record(z.string().max(32), z.string().max(100))
      .default({})
      .describe(
        "The platform's category codes mapped to the catalogue: code → category or category/sub. A code missing here is looked up among the catalogue's GB/T 30428 codes, else filed under fallbackCategory.",
      ),
    fallbackCategory: z
      .string()
      .max(100)
      .default('hotline_other')
      .describe('The catalogue category (or category/sub) of an order whose code maps to nothing.'),
    windowSeconds: z
      .number()
      .int()
      .min(30)
      .max(3600)
      .default(300)
      .describe('How far X-Timestamp may be from the hub’s clock; nonces are kept this long (twice over).'),
  })
  .describe(
    'The 12345 inbound work-order API (/api/hotline/v1): the platforms, signed requests, category codes.',
  );

export type HotlineConfig = z.infer<typeof hotlineSchema>;
export type HotlinePlatform = z.infer<typeof hotlinePlatformSchema>;
