import { z } from 'zod';

/** Field work (#24): where a worker arrives and what they send from the phone. */
export const fieldSchema = z.strictObject({
  keepPositions: z
    .boolean()
    .default(true)
    .describe(
      "Whether the hub keeps phones' positions: the arrival's (到达) and the uploads' (read from a photo's GPS EXIF or sent by the phone). false: only the distance to the device is kept; the files never hold one either way.",
    ),
  arrivalRadiusM: z
    .number()
    .int()
    .min(10)
    .max(10_000)
    .default(300)
    .describe(
      "An arrival farther than this (metres) from the device, beyond the position's accuracy, is flagged far on the worker's card and the officer console.",
    ),
  maxPhotoBytes: z
    .number()
    .int()
    .min(64 * 1024)
    .max(64 * 1024 ** 2)
    .default(8 * 1024 ** 2)
    .describe(
      'The largest photo an upload may carry (JPEG, PNG, WebP); the worker page downscales larger ones.',
    ),
  maxVideoBytes: z
    .number()
    .int()
    .min(1024 ** 2)
    .max(500 * 1024 ** 2)
    .default(50 * 1024 ** 2)
    .describe('The largest video an upload may carry (MP4, WebM, QuickTime).'),
  maxUploadsPerIncident: z
    .number()
    .int()
    .min(1)
    .max(200)
    .default(30)
    .describe('Photos and videos one case may collect from the field; past it, uploads are refused.'),
});

export type FieldSettings = z.infer<typeof fieldSchema>;
export const defaultFieldSettings: FieldSettings = fieldSchema.parse({});
