/**
 * A self-signed certificate for `localhost` and 127.0.0.1, made once per process with the
 * openssl CLI, so the test origin can serve its CDN over https as the real Hub's CDN does.
 * Clients trust it through `NODE_EXTRA_CA_CERTS` (node) or `--cacert` (curl).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCert {
  key: Buffer;
  cert: Buffer;
  /** The certificate's path: what clients pass as their extra CA. */
  certFile: string;
  /** The key's path (for a server configured by files, like nginx in the benches). */
  keyFile: string;
}

let made: SelfSignedCert | undefined;

export function selfSignedCert(): SelfSignedCert {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), 'hubcache-origin-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  made = { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile, keyFile };
  return made;
}
