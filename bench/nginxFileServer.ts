/**
 * nginx (Debian package) as a plain static file server over one folder: the competitor the
 * mirror's cache hits are measured against. Run as our own child process with a generated
 * config (`daemon off;`, a free port on 127.0.0.1, sendfile as nginx ships it), stopped by pid.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, stopChild, waitForPort } from './benchServer.js';
import { withChildren } from './processCpu.js';
import { nginxConf } from './nginxConf.js';

export interface NginxFileServer {
  /** `${url}/some/file` serves `${root}/some/file`. */
  url: string;
  pid: number;
  /** "nginx/1.22.1, 2 workers, sendfile on". */
  description: string;
  close(): Promise<void>;
}

export async function startNginxFileServer(params: { nginx: string; root: string; workDir: string }): Promise<NginxFileServer> {
  const prefix = join(params.workDir, 'nginx-static');
  await mkdir(join(prefix, 'tmp'), { recursive: true });
  const errorLog = join(prefix, 'error.log');
  let lastError: Error | undefined;
  // A free port can be taken between our look and nginx's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const conf = join(prefix, `nginx-${port}.conf`);
    await writeFile(
      conf,
      nginxConf({
        prefix,
        pidFile: join(prefix, `nginx-${port}.pid`),
        errorLog,
        workerConnections: 1024,
        servers: `  server {\n    listen 127.0.0.1:${port};\n    location / { root ${params.root}; }\n  }`,
      }),
    );
    const child = spawn(params.nginx, ['-p', prefix, '-e', errorLog, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    const up = await Promise.race([waitForPort(Number(port)), exited.then(() => false)]);
    if (up) {
      const version = spawnSync(params.nginx, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');
      // The master binds the port before it forks its workers: wait for them, so CPU is counted on all.
      let workers = 0;
      for (let i = 0; i < 100 && workers === 0; i++) {
        workers = withChildren(child.pid ?? 0).length - 1;
        if (workers === 0) await new Promise((r) => setTimeout(r, 20));
      }
      return {
        url: `http://127.0.0.1:${port}`,
        pid: child.pid ?? 0,
        description: `${version} (${params.nginx}), worker_processes auto (${workers} worker${workers === 1 ? '' : 's'}), sendfile on, access_log off`,
        close: () => stopChild(child, exited),
      };
    }
    await stopChild(child, exited);
    const log = await readFile(errorLog, 'utf8').catch(() => '');
    lastError = new Error(`${stderr}${log}`.trim() || 'nginx exited');
  }
  throw lastError ?? new Error('nginx did not start');
}
