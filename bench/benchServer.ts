/**
 * The server side of the download benchmarks: the test origin answers the Hub
 * metadata (HEAD resolve with X-Repo-Commit / X-Linked-Etag / X-Linked-Size
 * and a 302 to the CDN, paths-info for @huggingface/hub), and the LFS bytes
 * come from nginx (sendfile) when it is installed, as a real CDN serves them:
 *
 *   client -> nginx 127.0.0.1:<hub port>  -> proxy to the node origin (same-server
 *                                            mode), Location rewritten to the CDN port
 *          -> nginx 127.0.0.1:<cdn port>  /cdn/lfs/<sha256> -> the file on disk
 *                                            (sendfile, Range, If-Range)
 *
 * With `tls`, the same nginx also runs the real path of LFS bytes: a second Hub
 * port whose redirects point at an https CDN port (TLS 1.3, a self-signed
 * certificate for `localhost` that clients trust through NODE_EXTRA_CA_CERTS
 * or curl --cacert), beside the http pair, so one run measures both.
 *
 * Without nginx (CI) the node origin serves everything ('separate' CDN on a
 * second port); `kind` says which one ran. HUBCACHE_BENCH_NGINX=0 forces the
 * node origin, HUBCACHE_BENCH_NGINX=/path/to/nginx picks a binary.
 */
import { nginxConf } from './nginxConf.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { createOrigin, type Origin } from '../test/helpers/origin/createOrigin.js';
import { selfSignedCert } from '../test/helpers/origin/selfSignedCert.js';
import type { Fixture } from '../test/helpers/origin/fixture.js';

export interface BenchServer {
  origin: Origin;
  /** HF_ENDPOINT for every client. */
  endpoint: string;
  /** Where LFS bytes are served (what the resolve URL redirects to), for curl. */
  cdnUrlOf(sha256: string): string;
  kind: 'nginx' | 'node';
  /** Human-readable description of what served the bytes (and why, on fallback). */
  description: string;
  /** With `tls` (nginx only): the Hub endpoint whose LFS redirects go to the https CDN. */
  tls?: { endpoint: string; cdnUrlOf(sha256: string): string; caFile: string };
  close(): Promise<void>;
}

export function findNginx(): string | undefined {
  const forced = process.env.HUBCACHE_BENCH_NGINX;
  if (forced === '0') return undefined;
  if (forced && existsSync(forced)) return forced;
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found ? found : undefined;
}

export async function startBenchServer(params: { workDir: string; fixture: Fixture; tls?: boolean }): Promise<BenchServer> {
  const nginx = findNginx();
  let fallbackReason = process.env.HUBCACHE_BENCH_NGINX === '0' ? 'nginx disabled by HUBCACHE_BENCH_NGINX=0' : 'nginx is not installed';
  if (nginx) {
    const origin = await createOrigin({ fixture: params.fixture, cdn: 'same-server' });
    try {
      return await startNginx({ nginx, origin, workDir: params.workDir, tls: params.tls === true });
    } catch (err) {
      await origin.close();
      fallbackReason = `nginx failed to start (${(err as Error).message.split('\n')[0]})`;
    }
  }
  const origin = await createOrigin({ fixture: params.fixture, cdn: 'separate' });
  return {
    origin,
    endpoint: origin.url,
    cdnUrlOf: (sha256) => `${origin.cdnUrl}/cdn/lfs/${sha256}`,
    kind: 'node',
    description: `node test origin for metadata and bytes (${fallbackReason}); the bench process serves the bytes, so it competes for the same 2 cores`,
    close: () => origin.close(),
  };
}

async function startNginx(params: { nginx: string; origin: Origin; workDir: string; tls: boolean }): Promise<BenchServer> {
  const { origin } = params;
  const prefix = join(params.workDir, 'nginx');
  const root = join(prefix, 'root');
  const lfsDir = join(root, 'cdn', 'lfs');
  await mkdir(lfsDir, { recursive: true });
  await mkdir(join(prefix, 'tmp'), { recursive: true });
  // The CDN is content-addressed: /cdn/lfs/<sha256> names the fixture's file on disk.
  for (const [sha256, blob] of origin.fixture.blobsBySha256) {
    if (blob.body.kind === 'file') await symlink(blob.body.path, join(lfsDir, sha256));
    else await writeFile(join(lfsDir, sha256), blob.body.data);
  }
  const originPort = new URL(origin.url).port;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Two server blocks on two ports, like the Hub and its CDN on two hosts: clients must see the
    // origin change on the LFS redirect (a same-origin Location is followed by a metadata HEAD).
    const hubPort = await freePort();
    const cdnPort = await freePort();
    const tlsHubPort = await freePort();
    const tlsCdnPort = await freePort();
    const cert = params.tls ? selfSignedCert() : undefined;
    // The https pair: TLS 1.3 only, as the Hub's CDN negotiates with current clients; no sendfile
    // through TLS (nginx encrypts in user space, as any CDN without kernel TLS does).
    const servers = [
      cdnServer({ port: cdnPort, root }),
      hubProxyServer({ port: hubPort, originPort, cdnUrl: `http://127.0.0.1:${cdnPort}` }),
      ...(cert ? [cdnServer({ port: tlsCdnPort, root, cert }), hubProxyServer({ port: tlsHubPort, originPort, cdnUrl: `https://localhost:${tlsCdnPort}` })] : []),
    ].join('\n');
    const conf = join(prefix, `nginx-${hubPort}.conf`);
    const errorLog = join(prefix, 'error.log');
    await writeFile(
      conf,
      nginxConf({
        prefix,
        pidFile: join(prefix, 'nginx.pid'),
        errorLog,
        workerConnections: 256,
        servers,
      }),
    );
    const ports = [hubPort, cdnPort, ...(cert ? [tlsHubPort, tlsCdnPort] : [])];
    let running: RunningNginx;
    try {
      running = await spawnNginx({ nginx: params.nginx, prefix, conf, errorLog, ports });
    } catch (err) {
      lastError = err as Error;
      continue;
    }
    const hubUrl = `http://127.0.0.1:${hubPort}`;
    const cdnUrl = `http://127.0.0.1:${cdnPort}`;
    return {
      origin,
      endpoint: hubUrl,
      cdnUrlOf: (sha256) => `${cdnUrl}/cdn/lfs/${sha256}`,
      kind: 'nginx',
      description: `${running.version} (sendfile on, ${params.nginx}) serves the LFS bytes on its own port${cert ? ` (and over TLS 1.3 on another, self-signed certificate for localhost)` : ''}; the node test origin answers the metadata behind an nginx proxy`,
      ...(cert
        ? { tls: { endpoint: `http://127.0.0.1:${tlsHubPort}`, cdnUrlOf: (sha256: string) => `https://localhost:${tlsCdnPort}/cdn/lfs/${sha256}`, caFile: cert.certFile } }
        : {}),
      close: async () => {
        await running.stop();
        await origin.close();
      },
    };
  }
  throw lastError ?? new Error('nginx did not start');
}

/**
 * nginx in the foreground (`daemon off;`) as our child, with `conf`, once every port answers
 * (a free port can be taken between our look and nginx's bind: callers try again). If it exits
 * first or a port stays closed it is stopped, and the error says why (its stderr and error log).
 */
export interface RunningNginx {
  child: ChildProcess;
  /** "nginx/1.22.1". */
  version: string;
  stop(): Promise<void>;
}

export async function spawnNginx(params: { nginx: string; prefix: string; conf: string; errorLog: string; ports: string[] }): Promise<RunningNginx> {
  const child = spawn(params.nginx, ['-p', params.prefix, '-e', params.errorLog, '-c', params.conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  // Never leave an nginx behind if the bench dies without reaching close().
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const up = await Promise.race([Promise.all(params.ports.map((port) => waitForPort(Number(port)))).then((ok) => ok.every(Boolean)), exited.then(() => false)]);
  if (!up) {
    await stopChild(child, exited);
    const log = await readFile(params.errorLog, 'utf8').catch(() => '');
    throw new Error(`${stderr}${log}`.trim() || 'nginx exited');
  }
  const version = spawnSync(params.nginx, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');
  return { child, version, stop: () => stopChild(child, exited) };
}

/** A CDN port: /cdn/lfs/<sha256> served from `root` (sendfile, Range); over TLS 1.3 with `cert`. */
function cdnServer(args: { port: string; root: string; cert?: { certFile: string; keyFile: string } }): string {
  const tls = args.cert ? ` ssl;\n    ssl_certificate ${args.cert.certFile};\n    ssl_certificate_key ${args.cert.keyFile};\n    ssl_protocols TLSv1.3` : '';
  return `  server {
    listen 127.0.0.1:${args.port}${tls};
    location /cdn/lfs/ { root ${args.root}; }
  }`;
}

/** A Hub port: everything proxied to the node origin, its LFS redirects rewritten to the CDN at `cdnUrl`. */
function hubProxyServer(args: { port: string; originPort: string; cdnUrl: string }): string {
  return `  server {
    listen 127.0.0.1:${args.port};
    location / {
      proxy_pass http://127.0.0.1:${args.originPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_redirect http://127.0.0.1:${args.originPort}/cdn/ ${args.cdnUrl}/cdn/;
    }
  }`;
}

/** Stops one child by its pid: QUIT by default (nginx's graceful stop of master and workers), SIGKILL after 3 s. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals = 'SIGQUIT'): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

export function freePort(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(String(port)));
    });
  });
}

export async function waitForPort(port: number): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
