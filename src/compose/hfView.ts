/** Where a service keeps its Hugging Face cache, as its environment says, seen from inside its container. */
import { posix } from 'node:path';
import type { ComposeEnvVar, ComposeService } from './parseComposeFile.js';

export interface HfView {
  /** HF_HOME in the container (explicit, or implied by HF_HUB_CACHE=<home>/hub). */
  home: string | undefined;
  /** The hub cache folder in the container. */
  hub: string | undefined;
  /** The variable that decides it, to point findings at. */
  decidedBy: ComposeEnvVar | undefined;
  /** A cache variable is set but its value comes from outside the file. */
  unknown: ComposeEnvVar | undefined;
}

export function hfView(service: ComposeService): HfView {
  const first = (name: string): ComposeEnvVar | undefined => service.env.find((e) => e.name === name);
  const homeVar = first('HF_HOME');
  const hubVar = first('HF_HUB_CACHE') ?? first('HUGGINGFACE_HUB_CACHE');
  const unknown = [hubVar, homeVar].find((v) => v !== undefined && (v.value === undefined || !v.value.startsWith('/')));
  if (unknown) return { home: undefined, hub: undefined, decidedBy: unknown, unknown };
  const home = homeVar?.value !== undefined ? posix.normalize(homeVar.value).replace(/\/$/, '') : undefined;
  const hub = hubVar?.value !== undefined ? posix.normalize(hubVar.value).replace(/\/$/, '') : home !== undefined ? posix.join(home, 'hub') : undefined;
  const impliedHome = home ?? (hub !== undefined && posix.basename(hub) === 'hub' ? posix.dirname(hub) : undefined);
  return { home: impliedHome, hub, decidedBy: hubVar ?? homeVar, unknown: undefined };
}
