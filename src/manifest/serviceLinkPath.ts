/** Where a service's stable link lives: `<hf_home>/links/<service>/<name>`. Names are validated by the manifest parser. */
import { join } from 'node:path';
import { HubcacheError } from '../errors.js';
import { safeNameProblem } from './safeName.js';

export const LINKS_DIR_NAME = 'links';

export function serviceLinkPath(params: { hfHome: string; service: string; name: string }): string {
  // Checked again here: this path is written and replaced, so a bad name must never reach join().
  for (const [what, name] of [
    ['service', params.service],
    ['link', params.name],
  ] as const) {
    const problem = safeNameProblem({ name });
    if (problem) throw new HubcacheError({ code: 'E_INVALID_PATH', message: `Invalid ${what} name "${name}": ${problem}`, data: { name } });
  }
  return join(params.hfHome, LINKS_DIR_NAME, params.service, params.name);
}
