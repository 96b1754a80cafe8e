import * as nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** node:module's compile cache API (Node.js 22.1+; flushCompileCache 22.10+), absent from Node.js 20's types. */
interface CompileCacheApi {
  enableCompileCache?: (directory?: string) => { status: number; message?: string; directory?: string };
  flushCompileCache?: () => void;
  constants?: { compileCacheStatus?: Record<string, number> };
}

/** How the module compile cache was set up, for the start-up log line. */
export interface CompileCacheState {
  status: 'enabled' | 'already-enabled' | 'failed' | 'disabled' | 'unsupported';
  directory?: string;
  message?: string;
}

const api = nodeModule as unknown as CompileCacheApi;

/**
 * Turns on V8's code cache for every module loaded from here on (Node.js 22.1+): the second start of a manager with
 * the same directory compiles nothing, which is most of what loading Nest, fastify and their dependencies costs.
 * The directory is $NODE_COMPILE_CACHE, or one per user under the temporary directory. A directory that cannot be
 * written (a read-only root file system without an emptyDir on /tmp) only means no cache: Node.js reports it and
 * the manager starts as before. NODE_DISABLE_COMPILE_CACHE=1 turns it off; on Node.js 20 there is nothing to enable.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): CompileCacheState {
  if (api.enableCompileCache === undefined) return { status: 'unsupported' };
  if (env.NODE_DISABLE_COMPILE_CACHE) return { status: 'disabled' };
  const directory =
    env.NODE_COMPILE_CACHE || join(tmpdir(), `kubemacpool-compile-cache-${process.getuid?.() ?? 'user'}`);
  try {
    const result = api.enableCompileCache(directory);
    const names = Object.entries(api.constants?.compileCacheStatus ?? {});
    const name = names.find(([, value]) => value === result.status)?.[0] ?? String(result.status);
    const status = (
      { ENABLED: 'enabled', ALREADY_ENABLED: 'already-enabled', DISABLED: 'disabled' } as const
    )[name as 'ENABLED' | 'ALREADY_ENABLED' | 'DISABLED'];
    return { status: status ?? 'failed', directory: result.directory ?? directory, message: result.message };
  } catch (error) {
    return { status: 'failed', directory, message: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Writes what was compiled so far to the cache now (Node.js 22.10+) rather than at exit, so a manager that is
 * killed, not stopped, still leaves the cache for its successor.
 */
export function flushCompileCache(): void {
  try {
    api.flushCompileCache?.();
  } catch {
    // a cache that cannot be written is no cache, nothing more
  }
}
