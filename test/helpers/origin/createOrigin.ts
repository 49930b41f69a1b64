/**
 * A real HTTP server that speaks enough of the Hugging Face Hub protocol for
 * real clients (@huggingface/hub, huggingface_hub, hubcache) to download from
 * it, with counters and scripted faults for tests and benchmarks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { OriginContext } from './context.js';
import { FaultRegistry } from './faults.js';
import type { Fixture, RepoType } from './fixture.js';
import { handleRequest, type ServerRole } from './handleRequest.js';
import { prepareFixture, repoKey, resolveRevision, type PreparedFile, type PreparedFixture } from './prepareFixture.js';
import { OriginStats } from './stats.js';
import { selfSignedCert } from './selfSignedCert.js';

export interface CreateOriginParams {
  fixture: Fixture;
  /** The one valid token. Unset: any bearer token is accepted (and private repos need one). */
  token?: string;
  /**
   * `'separate'` (default) serves LFS bytes from a second server on another
   * port, so clients see the host change they see in production (and must drop
   * Authorization); `'same-server'` redirects to `/cdn/...` on the Hub server.
   */
  cdn?: 'same-server' | 'separate';
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  cdnPort?: number;
  /** Tree entries per page (default 50: small enough that tests paginate). */
  treePageSize?: number;
  /** Advertise Xet (X-Xet-* headers, `Link rel="xet-auth"`, `xetHash` in trees) as the Hub does. */
  xet?: boolean;
  /** Serve the separate CDN over https with a self-signed certificate (`caFile`), like the Hub's CDN. */
  cdnTls?: boolean;
}

export interface Origin {
  /** Hub base URL (HF_ENDPOINT), no trailing slash. */
  readonly url: string;
  /** Where LFS redirects point; equals `url` when `cdn: 'same-server'`. */
  readonly cdnUrl: string;
  readonly stats: OriginStats;
  readonly faults: FaultRegistry;
  /** With `cdnTls`: the certificate clients must trust (NODE_EXTRA_CA_CERTS). */
  readonly caFile: string | undefined;
  /** The fixture being served, hashed. */
  readonly fixture: PreparedFixture;
  /** Serve another fixture from now on (e.g. `main` moved). Requests in flight finish on the old one. */
  setFixture(fixture: Fixture): Promise<void>;
  /** Expected facts about a file (size, etag, sha256, lfs...) for assertions. Throws if absent. */
  file(params: { repoId: string; repoType?: RepoType; revision?: string; path: string }): PreparedFile;
  /** Stops both servers and cuts open connections, stalled ones included. */
  close(): Promise<void>;
}

export async function createOrigin(params: CreateOriginParams): Promise<Origin> {
  const host = params.host ?? '127.0.0.1';
  const separate = (params.cdn ?? 'separate') === 'separate';
  const fixture = await prepareFixture({ fixture: params.fixture });
  const ctx: OriginContext = {
    fixture,
    token: params.token,
    hubUrl: '',
    cdnUrl: '',
    treePageSize: params.treePageSize ?? 50,
    stats: new OriginStats(),
    faults: new FaultRegistry(),
    xet: params.xet ?? false,
  };
  const servers: Server[] = [];
  try {
    const hub = await listen({ ctx, role: separate ? 'hub' : 'both', host, port: params.port ?? 0 });
    servers.push(hub.server);
    ctx.hubUrl = hub.url;
    ctx.cdnUrl = hub.url;
    if (separate) {
      const cdn = await listen({ ctx, role: 'cdn', host, port: params.cdnPort ?? 0, tls: params.cdnTls === true });
      servers.push(cdn.server);
      ctx.cdnUrl = cdn.url;
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }

  return {
    url: ctx.hubUrl,
    cdnUrl: ctx.cdnUrl,
    stats: ctx.stats,
    faults: ctx.faults,
    caFile: params.cdnTls ? selfSignedCert().certFile : undefined,
    get fixture() {
      return ctx.fixture;
    },
    async setFixture(next) {
      ctx.fixture = await prepareFixture({ fixture: next });
    },
    file({ repoId, repoType = 'model', revision = 'main', path }) {
      const repo = ctx.fixture.byKey.get(repoKey({ repoType, repoId }));
      const file = repo && resolveRevision({ repo, revision })?.files.get(path);
      if (file === undefined) throw new Error(`origin fixture has no ${repoType} ${repoId}@${revision}:${path}`);
      return file;
    },
    async close() {
      await Promise.all(servers.map(closeServer));
    },
  };
}

async function listen(params: { ctx: OriginContext; role: ServerRole; host: string; port: number; tls?: boolean }): Promise<{ server: Server; url: string }> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void handleRequest({ ctx: params.ctx, req, res, role: params.role });
  };
  const server: Server = params.tls ? createTlsServer({ key: selfSignedCert().key, cert: selfSignedCert().cert }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(params.port, params.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.address.includes(':') ? `[${address.address}]` : address.address;
  return { server, url: `${params.tls ? 'https' : 'http'}://${hostPart}:${address.port}` };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // close() waits for idle keep-alive and stalled responses; tests must not.
    server.closeAllConnections();
  });
}
