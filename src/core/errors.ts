/**
 * One catalogue of coded errors, after fastify's lib/errors.js.
 *
 * These are configuration and contract faults: they stop the operation (or the start-up) with a code
 * an operator can search for. Device and runtime faults are not errors in this sense: they are refusals,
 * logged, counted and shown as status (see core/refusals.ts), and never thrown out of the ingest path.
 */
export const errorCatalogue = {
  GRIDHUB_CONFIG_INVALID: 'the configuration is invalid',
  GRIDHUB_CONFIG_UNREADABLE: 'the configuration file cannot be read',
  GRIDHUB_PORT_IN_USE: 'a port is already in use',
  GRIDHUB_LISTEN_FAILED: 'a server could not listen',
  GRIDHUB_STORE_FAILED: 'the store could not be opened',
  GRIDHUB_ADAPTER_INVALID: 'a device adapter definition is invalid',
  GRIDHUB_DEMO_SECRETS: "the demo's public secrets on a non-loopback address",
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export class GridhubError extends Error {
  readonly code: ErrorCode;
  /** Individual problems, each as `path: message`, when there are several (config validation). */
  readonly problems: readonly string[];

  constructor(
    code: ErrorCode,
    message: string,
    options: { problems?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GridhubError';
    this.code = code;
    this.problems = options.problems ?? [];
  }
}

export function isGridhubError(error: unknown): error is GridhubError {
  return error instanceof GridhubError;
}

/**
 * Turns a server's listen failure into one clear line that names the setting to change, e.g.
 * `MQTT port 1883 is already in use: set MQTT_PORT to a free port (0 picks one)`.
 */
export function listenError(error: unknown, what: string, port: number, setting: string): GridhubError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new GridhubError(
      'GRIDHUB_PORT_IN_USE',
      `${what} port ${port} is already in use: set ${setting} to a free port (0 picks one)`,
      { cause: error },
    );
  }
  return new GridhubError(
    'GRIDHUB_LISTEN_FAILED',
    `${what} cannot listen on port ${port} (${code ?? (error as Error).message}): check ${setting}`,
    { cause: error },
  );
}
