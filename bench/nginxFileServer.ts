/**
 * nginx (Debian package) as a plain static file server over one folder: the competitor the
 * mirror's cache hits are measured against. Run as our own child process with a generated
 * config (`daemon off;`, a free port on 127.0.0.1, sendfile as nginx ships it), stopped by pid.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, spawnNginx, type RunningNginx } from './benchServer.js';
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
    let running: RunningNginx;
    try {
      running = await spawnNginx({ nginx: params.nginx, prefix, conf, errorLog, ports: [port] });
    } catch (err) {
      lastError = err as Error;
      continue;
    }
    const pid = running.child.pid ?? 0;
    // The master binds the port before it forks its workers: wait for them, so CPU is counted on all.
    let workers = 0;
    for (let i = 0; i < 100 && workers === 0; i++) {
      workers = withChildren(pid).length - 1;
      if (workers === 0) await new Promise((r) => setTimeout(r, 20));
    }
    return {
      url: `http://127.0.0.1:${port}`,
      pid,
      description: `${running.version} (${params.nginx}), worker_processes auto (${workers} worker${workers === 1 ? '' : 's'}), sendfile on, access_log off`,
      close: running.stop,
    };
  }
  throw lastError ?? new Error('nginx did not start');
}
