/**
 * The nginx configuration the benches run (one text for every bench that starts nginx):
 * `worker_processes auto` (one per core) and sendfile are Debian's defaults, nginx as people
 * run it; workers run as root only when we are root (the bench's temp folders are 0700).
 */
import { join } from 'node:path';

export function nginxConf(params: { prefix: string; pidFile: string; errorLog: string; workerConnections: number; servers: string }): string {
  const { prefix } = params;
  return `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes auto;
pid ${params.pidFile};
error_log ${params.errorLog} warn;
events { worker_connections ${params.workerConnections}; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 30s;
  default_type application/octet-stream;
  client_body_temp_path ${join(prefix, 'tmp', 'body')};
  proxy_temp_path ${join(prefix, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(prefix, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(prefix, 'tmp', 'scgi')};
${params.servers}
}
`;
}
