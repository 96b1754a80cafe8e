// First, before anything else is loaded: the compile cache covers only the modules loaded after it is enabled.
// TypeScript emits the imports below as require() calls in this order, so bootstrap loads with the cache on.
import { enableCompileCache, flushCompileCache } from './compile-cache';
const compileCache = enableCompileCache();

import { startManager } from './bootstrap';

void startManager(process.env, { compileCache, args: process.argv.slice(2) }).then((manager) => {
  if (manager === undefined) process.exitCode = 1;
  else flushCompileCache();
});
