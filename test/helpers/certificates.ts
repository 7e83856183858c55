import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Certificates made at run time with the openssl command: a CA, certificates it signs (the hub's for 127.0.0.1 and
 * localhost, devices' client certificates), and self-signed ones no CA vouches for. EC keys: quick to make.
 */
export class TestCertificates {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  file(name: string): string {
    return path.join(this.directory, name);
  }

  read(name: string): string {
    return readFileSync(this.file(name), 'utf8');
  }

  /** A CA: `<name>.crt` and `<name>.key`. */
  ca(name = 'ca'): void {
    openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      this.file(`${name}.key`),
      '-out',
      this.file(`${name}.crt`),
      '-subj',
      `/CN=gridhub test ${name}`,
      '-days',
      '2',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }

  /** The hub's certificate for 127.0.0.1 and localhost, signed by `ca`: `<name>.crt` and `<name>.key`. */
  server(name = 'server', ca = 'ca'): void {
    this.#signed(name, ca, '/CN=localhost', [
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'extendedKeyUsage=serverAuth',
    ]);
  }

  /** A device's client certificate naming `deviceId` in its subject CN, signed by `ca`. */
  client(name: string, deviceId: string, ca = 'ca'): void {
    this.#signed(name, ca, `/CN=${deviceId}`, ['extendedKeyUsage=clientAuth']);
  }

  /** SHA-256 fingerprint as Node prints it (AB:CD:...). */
  fingerprint(name: string): string {
    return new X509Certificate(this.read(`${name}.crt`)).fingerprint256;
  }

  #signed(name: string, ca: string, subject: string, extensions: string[]): void {
    const csr = this.file(`${name}.csr`);
    const extfile = this.file(`${name}.ext`);
    writeFileSync(extfile, `${extensions.join('\n')}\n`);
    openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      this.file(`${name}.key`),
      '-out',
      csr,
      '-subj',
      subject,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.file(`${ca}.crt`),
      '-CAkey',
      this.file(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      this.file(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      extfile,
    ]);
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
