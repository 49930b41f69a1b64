/**
 * Steps 1-3 of `checkCompose`: every service that uses the cache mounts the
 * same volume at the same path and keeps its hub cache at the same place in it.
 */
import { posix } from 'node:path';
import type { ComposeCheckContext } from './composeCheckContext.js';
import { defaultHub, isWithin, majority, mountContaining } from './composePaths.js';
import type { HfView } from './hfView.js';

/** 1. One mount path for the cache everywhere, so paths (and link paths) mean the same in every container. */
export function checkMountPaths(context: ComposeCheckContext): void {
  const { users, targetOf, volume, add } = context;
  for (const user of users) {
    if (targetOf === undefined || user.mount.target === targetOf) continue;
    const others = users.filter((u) => u.mount.target === targetOf).map((u) => u.service.name);
    add({
      code: 'mount-path-differs',
      severity: 'problem',
      service: user.service.name,
      at: user.mount.at,
      message: `${user.service.name} mounts ${volume.label} at ${user.mount.target}, but ${others.join(', ')} mount${others.length === 1 ? 's' : ''} it at ${targetOf}: the same file has a different path in each container`,
      fix: `Mount it as \`- ${volume.short}:${targetOf}\` and set HF_HOME to the same value as the other services.`,
    });
  }
}

/** 2. HF_HOME / HF_HUB_CACHE: on the volume, and at the same place in it for every service. */
export function checkHubLocations(context: ComposeCheckContext): void {
  const { users, volume, add } = context;
  const relHubs = new Map<string, string>();
  for (const user of users) {
    const { service, mount, view } = user;
    if (view.unknown) {
      add({ code: 'env-value-unknown', severity: 'note', service: service.name, at: view.unknown.at, message: `${service.name}: ${view.unknown.name} comes from the host environment or an undefined variable; it was not checked`, fix: undefined });
      continue;
    }
    const hub = view.hub ?? defaultHub(mount.target);
    if (hub === undefined) {
      add({
        code: 'hf-home-unset',
        severity: 'problem',
        service: service.name,
        at: mount.at,
        message: `${service.name} mounts ${volume.label} at ${mount.target} but sets neither HF_HOME nor HF_HUB_CACHE: Hugging Face libraries use ~/.cache/huggingface/hub, which is not on the volume`,
        fix: `Add \`HF_HOME=${mount.target}\` to its environment.`,
      });
      continue;
    }
    if (!isWithin(mount.target, hub)) {
      add({
        code: 'hf-home-outside-mount',
        severity: 'problem',
        service: service.name,
        at: view.decidedBy?.at ?? mount.at,
        message: `${service.name}: ${view.decidedBy?.name ?? 'the default cache'} puts the hub cache at ${hub}, outside the ${volume.label} mount (${mount.target}): its downloads stay in the container and are not shared`,
        fix: `Set \`HF_HOME=${mount.target}\` (or mount the volume at ${view.home ?? posix.dirname(hub)}).`,
      });
      continue;
    }
    relHubs.set(service.name, posix.relative(mount.target, hub));
  }
  const relHub = majority([...relHubs.values()], undefined);
  for (const user of users) {
    const rel = relHubs.get(user.service.name);
    if (rel === undefined || relHub === undefined || rel === relHub) continue;
    const agreeing = [...relHubs].filter(([, r]) => r === relHub).map(([name]) => name);
    const want = posix.join(user.mount.target, relHub);
    add({
      code: 'hf-home-differs',
      severity: 'problem',
      service: user.service.name,
      at: user.view.decidedBy?.at ?? user.mount.at,
      message: `${user.service.name} keeps its hub cache at ${posix.join(user.mount.target, rel)} (${volume.label}:/${rel}), but ${agreeing.join(', ')} use ${volume.label}:/${relHub}: they download the same models twice`,
      fix: posix.basename(want) === 'hub' ? `Set \`HF_HOME=${posix.dirname(want)}\` (and drop HF_HUB_CACHE).` : `Set \`HF_HUB_CACHE=${want}\`.`,
    });
  }
}

/** 3. Services that set a cache path without mounting the cache. */
export function checkUnmountedCacheUsers(context: ComposeCheckContext): void {
  const { compose, manifest, users, views, volume, targetOf, add } = context;
  const manifestNames = new Set(manifest?.services.map((s) => s.name) ?? []);
  for (const service of compose.services) {
    if (users.some((u) => u.service === service) || manifestNames.has(service.name)) continue;
    const view = views.get(service.name) as HfView;
    if (view.hub === undefined || !view.decidedBy) continue;
    const other = mountContaining(service, view.home ?? view.hub);
    add({
      code: other?.key ? 'different-cache-volume' : 'hf-home-without-mount',
      severity: 'problem',
      service: service.name,
      at: view.decidedBy.at,
      message: other?.key
        ? `${service.name} keeps its Hugging Face cache on ${other.key.replace(/^volume:/, 'volume ').replace(/^bind:/, 'host folder ')}, not on ${volume.label} like ${volume.services.join(', ')}: downloads are not shared`
        : `${service.name} sets ${view.decidedBy.name}=${view.decidedBy.value} but does not mount ${volume.label}: its downloads land inside the container and vanish with it`,
      fix: `Mount \`- ${volume.short}:${targetOf ?? '/data/.huggingface'}\` and point ${view.decidedBy.name} inside it, like the other services.`,
    });
  }
}
