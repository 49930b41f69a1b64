/** Step 4 of `checkCompose`: the manifest's services mount the cache, and see it where the manifest says. */
import type { ComposeCheckContext } from './composeCheckContext.js';
import { defaultHome } from './composePaths.js';
import type { ComposePosition } from './parseComposeFile.js';

export function checkManifestServices(context: ComposeCheckContext): void {
  const { compose, manifest, users, volume, targetOf, add } = context;
  for (const declared of manifest?.services ?? []) {
    const service = compose.services.find((s) => s.name === declared.name);
    const manifestAt: ComposePosition = { file: manifest?.displayPath ?? 'hubcache.yaml', line: declared.at.line, column: declared.at.column };
    if (!service) {
      add({ code: 'manifest-service-missing', severity: 'note', service: declared.name, at: manifestAt, message: `service ${declared.name} of the manifest is not in ${compose.displayPath}`, fix: undefined });
      continue;
    }
    const user = users.find((u) => u.service === service);
    if (!user) {
      add({
        code: 'manifest-service-not-mounted',
        severity: 'problem',
        service: service.name,
        at: service.at,
        message: `${service.name} needs models (it is in ${manifest?.displayPath}) but does not mount ${volume.label}: its model paths do not exist in the container`,
        fix: `Add \`- ${volume.short}:${targetOf ?? '/data/.huggingface'}\` to its volumes and \`HF_HOME=${manifest?.hfHome ?? targetOf ?? '/data/.huggingface'}\` to its environment.`,
      });
      continue;
    }
    const home = user.view.home ?? (user.view.hub === undefined ? defaultHome(user.mount.target) : undefined);
    if (manifest?.hfHome !== undefined && home !== undefined && home !== manifest.hfHome && !user.view.unknown) {
      add({
        code: 'manifest-hf-home-differs',
        severity: 'problem',
        service: service.name,
        at: user.view.decidedBy?.at ?? user.mount.at,
        message: `${manifest.displayPath} says hf_home: ${manifest.hfHome}, but ${service.name} sees the cache at ${home}: the link paths \`hubcache env\` prints do not exist in this container`,
        fix: `Use the same path in both: set \`hf_home: ${home}\` in ${manifest.displayPath}, or mount the cache and HF_HOME at ${manifest.hfHome}.`,
      });
    }
  }
}
