/**
 * The shared store's public API (re-exported by src/index.ts) without its cost: each function loads
 * its module, and the AWS SDK behind it (tens of modules, ~100 ms of start-up), only when called.
 * So `import 'hubcache'`, `hubcache --version` and a `serve` without `--store` never load the SDK.
 * The signatures are those of the modules they load; the types come along at no runtime cost.
 */
import type { RepoRef } from '../cache/repoId.js';
import type { DeleteDamagedObjectParams, DeleteDamagedObjectResult } from './deleteDamagedObject.js';
import type { StoreListing } from './listStore.js';
import type { PullFromStoreParams, PullFromStoreResult } from './pullFromStore.js';
import type { PushToStoreParams, PushToStoreResult } from './pushToStore.js';
import type { RunStoreFixParams, StoreFixResult } from './runStoreFix.js';
import type { S3Connection } from './s3Connection.js';
import type { S3Store, S3StoreParams } from './s3Store.js';
import type { VerifyStoreParams, VerifyStoreReport } from './verifyStore.js';

/** Opens a store (bucket checks, the If-None-Match probe); see s3Connection. */
export async function openS3Connection(params: Parameters<typeof import('./s3Connection.js').openS3Connection>[0]): Promise<S3Connection> {
  return (await import('./s3Connection.js')).openS3Connection(params);
}

export async function listStore(params: { conn: S3Connection; repos?: RepoRef[] }): Promise<StoreListing> {
  return (await import('./listStore.js')).listStore(params);
}

export async function verifyStore(params: VerifyStoreParams): Promise<VerifyStoreReport> {
  return (await import('./verifyStore.js')).verifyStore(params);
}

export async function pushToStore(params: PushToStoreParams): Promise<PushToStoreResult> {
  return (await import('./pushToStore.js')).pushToStore(params);
}

/** Deletes a blob object found damaged, only if it is still the object that was hashed; see deleteDamagedObject. */
export async function deleteDamagedObject(params: DeleteDamagedObjectParams): Promise<DeleteDamagedObjectResult> {
  return (await import('./deleteDamagedObject.js')).deleteDamagedObject(params);
}

/** Runs a plan of `planStoreFix` (verify --store --fix); see runStoreFix. */
export async function runStoreFix(params: RunStoreFixParams): Promise<StoreFixResult> {
  return (await import('./runStoreFix.js')).runStoreFix(params);
}

export async function pullFromStore(params: PullFromStoreParams): Promise<PullFromStoreResult> {
  return (await import('./pullFromStore.js')).pullFromStore(params);
}

/**
 * The store of `serve --store` over an open connection. Synchronous like the store it returns:
 * every method waits for the module's load first (a caller holding a connection has the SDK loaded
 * already, so that is our own module only); `fills()` is empty until then, when none can run.
 */
export function createS3Store(params: S3StoreParams): S3Store {
  let store: S3Store | undefined;
  const loaded = import('./s3Store.js').then((module) => (store = module.createS3Store(params)));
  // Keep a failed load from being an unhandled rejection: the next call reports it.
  loaded.catch(() => undefined);
  return {
    conn: params.conn,
    openBlob: async (p) => (await loaded).openBlob(p),
    runningFill: async (p) => (await loaded).runningFill(p),
    fillBlob: async (p) => (await loaded).fillBlob(p),
    cachedFile: async (p) => (await loaded).cachedFile(p),
    noteRef: async (p) => (await loaded).noteRef(p),
    cachedRef: async (p) => (await loaded).cachedRef(p),
    getMeta: async (p) => (await loaded).getMeta(p),
    putMeta: async (p) => (await loaded).putMeta(p),
    fills: () => store?.fills() ?? [],
    close: async () => (await loaded).close(),
  };
}
