import { X509Certificate } from 'node:crypto';
import { readFileSync, type Stats, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext, type PeerCertificate, TLSSocket } from 'node:tls';
import { GridhubError } from '../core/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { TlsMetrics } from './tls-metrics.ts';

/** The PEM text of a listener's certificate, its key, and the CA of client certificates. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

export interface TlsCredentialsOptions {
  readonly files: { readonly cert: string; readonly key: string; readonly ca?: string };
  /** How often the files are checked (fs.watchFile's interval). */
  readonly checkMs: number;
  /**
   * Its counters (tlsMetrics), not the registry: this module is loaded in the broker thread too (client
   * certificate checks), which needs no prom-client.
   */
  readonly metrics: TlsMetrics;
  readonly logger: Logger;
}

/**
 * The hub's certificate files, loaded and watched: a renewal (certbot, an operator copying new files) reaches every
 * TLS listener without a restart, through each listener's setSecureContext; connections already open keep theirs.
 * Files are polled (fs.watchFile) rather than watched: renewals usually replace a file (a rename), which loses an
 * inotify watch. A set that does not load (a new certificate whose key is not there yet, a truncated file) is
 * logged and counted, and the one in use stays; the next change tries again.
 */
export class TlsCredentials {
  readonly #options: TlsCredentialsOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(material: TlsMaterial) => void>();
  #current: TlsMaterial | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;
  readonly #watched: { file: string; listener: (now: Stats, before: Stats) => void }[] = [];

  constructor(options: TlsCredentialsOptions) {
    this.#options = options;
    this.#log = options.logger.child({ ns: 'tls' });
  }

  /** The material in use; start() loads it. */
  get current(): TlsMaterial {
    if (this.#current === undefined) throw new Error('TLS credentials used before start');
    return this.#current;
  }

  /** Loads the files (a set that does not load stops the start) and starts watching them. */
  start(): void {
    try {
      this.#current = this.#load();
    } catch (error) {
      throw new GridhubError('GRIDHUB_CONFIG_INVALID', 'the TLS certificate files do not load', {
        problems: [`tls: ${(error as Error).message}`],
        cause: error,
      });
    }
    this.#describe(this.#current, 'certificate loaded');
    const { files, checkMs } = this.#options;
    for (const file of new Set([files.cert, files.key, ...(files.ca === undefined ? [] : [files.ca])])) {
      const listener = (now: Stats, before: Stats): void => {
        if (now.mtimeMs !== before.mtimeMs || now.ino !== before.ino || now.size !== before.size) {
          this.#scheduleReload();
        }
      };
      watchFile(file, { interval: checkMs, persistent: false }, listener);
      this.#watched.push({ file, listener });
    }
  }

  /** Called with the new material after each successful reload; returns its removal. */
  onChange(listener: (material: TlsMaterial) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    clearTimeout(this.#reloadTimer);
    this.#reloadTimer = undefined;
    for (const { file, listener } of this.#watched.splice(0)) unwatchFile(file, listener);
    this.#listeners.clear();
  }

  /** A renewal replaces several files one after the other: loaded once they all settled for a moment. */
  #scheduleReload(): void {
    clearTimeout(this.#reloadTimer);
    this.#reloadTimer = setTimeout(() => this.#reload(), Math.min(this.#options.checkMs, 500));
    this.#reloadTimer.unref();
  }

  #reload(): void {
    this.#reloadTimer = undefined;
    let material: TlsMaterial;
    try {
      material = this.#load();
    } catch (error) {
      this.#options.metrics.reloads.labels('failed').inc();
      this.#log.error(
        { error: (error as Error).message },
        'changed certificate files do not load: the ones in use stay',
      );
      return;
    }
    this.#current = material;
    this.#options.metrics.reloads.labels('ok').inc();
    this.#describe(material, 'certificate reloaded');
    for (const listener of this.#listeners) listener(material);
  }

  /** Reads the files and checks they make a context (the key matches the certificate) before anything uses them. */
  #load(): TlsMaterial {
    const { files } = this.#options;
    const material: TlsMaterial = {
      cert: readFileSync(files.cert, 'utf8'),
      key: readFileSync(files.key, 'utf8'),
      ...(files.ca === undefined ? {} : { ca: readFileSync(files.ca, 'utf8') }),
    };
    createSecureContext(material);
    return material;
  }

  #describe(material: TlsMaterial, message: string): void {
    const certificate = new X509Certificate(material.cert);
    const expires = new Date(certificate.validTo);
    this.#options.metrics.certificateExpiry.set(Math.floor(expires.getTime() / 1000));
    this.#log.info(
      {
        subject: certificate.subject,
        fingerprint256: certificate.fingerprint256,
        expires: expires.toISOString(),
      },
      message,
    );
  }
}

/**
 * The device ids a client certificate names: its subject's CN and its DNS subject alternative names. Only a
 * certificate the TLS layer verified against the configured CA (socket.authorized) is asked.
 */
export function certificateIdentities(certificate: PeerCertificate): string[] {
  const ids: string[] = [];
  const cn = certificate.subject?.CN;
  if (typeof cn === 'string') ids.push(cn);
  else if (Array.isArray(cn)) ids.push(...(cn as string[]));
  for (const name of (certificate.subjectaltname ?? '').split(', ')) {
    if (name.startsWith('DNS:')) ids.push(name.slice(4));
  }
  return ids;
}

export type ClientCertificateMode = 'off' | 'optional' | 'required';

/**
 * What a connection's client certificate binds it to: nothing to check (none asked for, or none given where it is
 * optional), the ids of a verified certificate (the client id must be one of them), `invalid` (none where one is
 * required, or one the CA did not sign), or `absent` where certificates are required but the connection cannot
 * carry one (MQTT over WebSocket, through the HTTP listener): a device is refused there, or the requirement would
 * be a detour away.
 */
export type ClientCertificateCheck = { readonly ids: readonly string[] } | 'invalid' | 'absent' | undefined;

export function clientCertificateCheck(
  connection: unknown,
  mode: ClientCertificateMode,
): ClientCertificateCheck {
  if (mode === 'off') return undefined;
  if (!(connection instanceof TLSSocket)) return mode === 'required' ? 'absent' : undefined;
  const certificate = connection.getPeerCertificate();
  const presented = certificate !== null && Object.keys(certificate).length > 0;
  if (!presented) return mode === 'required' ? 'invalid' : undefined;
  return connection.authorized ? { ids: certificateIdentities(certificate) } : 'invalid';
}
