#!/usr/bin/env node
/**
 * The `hubcache` command. CommonJS on purpose: this file runs synchronously
 * before anything is queued on libuv's thread pool, which is created once, at
 * its first use, with the UV_THREADPOOL_SIZE of that moment. Loading an ES
 * module reads files on that pool, so setting the variable in the ESM entry
 * would come too late.
 *
 * Scans and hashes issue many small fs calls; 16 threads let them overlap
 * (the default is 4). A value the user set is kept.
 */
'use strict';
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/cli/main.js');
