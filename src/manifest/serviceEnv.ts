/**
 * The environment a service needs: each declared `env` name set to its stable
 * link path. The path depends only on HF_HOME, the service and the link name,
 * never on the revision, so an env file written once stays right after every
 * sync. `hfHome` is the HF_HOME the service sees (the manifest's `hf_home`),
 * `localHfHome` where this process finds the same folder, to check the links.
 */
import { lstat, stat } from 'node:fs/promises';
import { HubcacheError } from '../errors.js';
import type { Manifest } from './manifest.js';
import { serviceLinkPath } from './serviceLinkPath.js';
import { quoteInput } from '../quoteInput.js';

export interface ServiceEnvVar {
  name: string;
  /** The path as the service sees it. */
  value: string;
  link: string;
  /** Where it was checked locally. */
  localPath: string;
  /** `ok`: resolves; `missing`: no link yet; `dangling`: the link's target is gone. Undefined when not checked. */
  state: 'ok' | 'missing' | 'dangling' | undefined;
}

export interface ServiceEnvParams {
  manifest: Manifest;
  service: string;
  hfHome: string;
  localHfHome: string;
  /** Check that each link resolves (default true). */
  check?: boolean;
}

export async function serviceEnv(params: ServiceEnvParams): Promise<ServiceEnvVar[]> {
  const service = params.manifest.services.find((s) => s.name === params.service);
  if (!service) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `No service ${quoteInput(params.service)} in ${params.manifest.displayPath}`,
      hint: `Services in the manifest: ${params.manifest.services.map((s) => s.name).join(', ') || '(none)'}.`,
    });
  }
  const vars: ServiceEnvVar[] = [];
  for (const model of service.models) {
    for (const link of model.links) {
      if (link.env === undefined) continue;
      const value = serviceLinkPath({ hfHome: params.hfHome, service: service.name, name: link.name });
      const localPath = serviceLinkPath({ hfHome: params.localHfHome, service: service.name, name: link.name });
      let state: ServiceEnvVar['state'];
      if (params.check !== false) {
        if (await stat(localPath).then(() => true, () => false)) state = 'ok';
        else state = (await lstat(localPath).then(() => true, () => false)) ? 'dangling' : 'missing';
      }
      vars.push({ name: link.env, value, link: link.name, localPath, state });
    }
  }
  return vars;
}
