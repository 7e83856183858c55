import { z } from 'zod';

/** The id policies name a channel by. */
export const channelIdSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, - and _');
