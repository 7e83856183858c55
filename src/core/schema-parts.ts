import { z } from 'zod';

/**
 * The zod pieces that the config file's schema and the REST API's bodies share (a device, a shift), so that a
 * thing described in either place is held to the same bounds and refused with the same message.
 */

/** The id of a jurisdiction node, and of a user. */
export const nodeIdSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,63}$/,
    'must be lowercase letters, digits and dashes, starting with a letter or digit',
  );

const longitude = z.number().min(-180).max(180);
const latitude = z.number().min(-90).max(90);
/** [lon, lat]. */
export const positionSchema = z.tuple([longitude, latitude]);

/** A local time of day, HH:MM. */
export const clockTimeSchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, 00:00 to 23:59');
