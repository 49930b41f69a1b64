/**
 * The compose file the e2e run starts: docker/docker-compose.yml as written, with only what this
 * machine cannot have replaced. Kept from the example: the `models` service (hubcache image,
 * `sync`), the shared `hf-cache` volume and its mount points, `depends_on: service_completed_successfully`,
 * the env files. Changed: registry images the example names (llama.cpp's server, "your image")
 * become the e2e app image running a small program that uses the same env file; host ports go (the
 * machine is shared); the models service downloads from the test origin (HF_ENDPOINT). Added: a
 * `mirror` service (`hubcache serve` on the same volume) and `hub-client`, another uid in the cache's
 * group that downloads with @huggingface/hub through the mirror and mounts the volume elsewhere.
 */
import { parse, stringify } from 'yaml';

export const MOUNT = '/data/.huggingface';
/** Where hub-client mounts the same volume: the cache's relative links must resolve there too. */
export const CLIENT_MOUNT = '/models/hf';
export const CLIENT_UID = 1001;
/** The cache folder's group: the hubcache image's `node` group, which owns the volume. */
export const CACHE_GID = 1000;
export const MIRROR_PORT = 8090;

type Service = Record<string, unknown>;

export interface StackFileParams {
  /** docker/docker-compose.yml's text. */
  example: string;
  /** The image `docker build -f docker/Dockerfile` made. */
  hubcacheImage: string;
  /** The test-only image with node-llama-cpp and @huggingface/hub. */
  appImage: string;
  /** The test Hub, as containers reach it. */
  originUrl: string;
  /** A network made before the stack, whose gateway address the origin listens on. */
  network: string;
  client: { repo: string; revision: string; files: string[] };
}

export function stackFile(params: StackFileParams): string {
  const doc = parse(params.example) as { name?: string; services: Record<string, Service>; volumes?: unknown; networks?: unknown };
  // Compose v1 (Debian's 1.29) rejects a top-level `name:`; the project name is given with -p.
  delete doc.name;
  const services = doc.services;
  const required = ['models', 'llama-cpp', 'whisperx', 'youtube-tools'];
  for (const name of required) if (!services[name]) throw new Error(`docker/docker-compose.yml has no ${name} service`);

  const models = services.models!;
  delete models.build;
  models.image = params.hubcacheImage;
  addEnv(models, { HF_ENDPOINT: params.originUrl });

  const llama = services['llama-cpp']!;
  llama.image = params.appImage;
  llama.command = ['node', '/opt/app/generate.mjs'];
  delete llama.ports;

  for (const name of ['whisperx', 'youtube-tools']) {
    const service = services[name]!;
    service.image = params.appImage;
    service.command = ['node', '/opt/app/readLinks.mjs'];
    addEnv(service, { E2E_SERVICE: name, E2E_ENV_NAMES: name === 'whisperx' ? 'WHISPER_MODEL_DIR,DIARIZATION_CONFIG' : 'WHISPER_MODEL_DIR' });
  }

  services.mirror = {
    image: params.hubcacheImage,
    depends_on: { models: { condition: 'service_completed_successfully' } },
    command: ['serve', '--host', '0.0.0.0', '--port', String(MIRROR_PORT), '--upstream', params.originUrl, '--no-dashboard'],
    environment: { HF_HOME: MOUNT },
    volumes: [`hf-cache:${MOUNT}`],
  };
  services['hub-client'] = {
    image: params.appImage,
    depends_on: { models: { condition: 'service_completed_successfully' }, mirror: { condition: 'service_started' } },
    // Not the cache's owner: it writes through the group (setgid folders, umask 002).
    user: `${CLIENT_UID}:${CLIENT_UID}`,
    group_add: [String(CACHE_GID)],
    entrypoint: ['sh', '-c', 'umask 002 && exec node /opt/app/client.mjs'],
    environment: {
      HF_ENDPOINT: `http://mirror:${MIRROR_PORT}`,
      HF_HUB_CACHE: `${CLIENT_MOUNT}/hub`,
      E2E_CLIENT_REPO: params.client.repo,
      E2E_CLIENT_REVISION: params.client.revision,
      E2E_CLIENT_FILES: params.client.files.join(','),
      // Files `models` synced, read through the stable links at this service's mount point.
      E2E_CLIENT_READ: [`${CLIENT_MOUNT}/links/llama-cpp/model.gguf`, `${CLIENT_MOUNT}/links/whisperx/whisper/config.json`, `${CLIENT_MOUNT}/links/whisperx/diarization.yaml`].join(','),
    },
    volumes: [`hf-cache:${CLIENT_MOUNT}`],
  };
  doc.networks = { default: { external: true, name: params.network } };
  return stringify(doc);
}

/** Adds variables to a service's `environment`, in whichever form the example wrote it (list or map). */
function addEnv(service: Service, vars: Record<string, string>): void {
  const env = service.environment;
  if (Array.isArray(env)) service.environment = [...(env as string[]), ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
  else service.environment = { ...(env as Record<string, string> | undefined), ...vars };
}
