import { type ChildProcess } from 'node:child_process';

/**
 * SIGKILLs a helper child and waits until it was reaped. An unref'd child killed without waiting can still be a zombie
 * when the runner exits, and Node.js then spins in its exit clean-up waiting for that child's handle, never exiting.
 */
export async function reap(child: ChildProcess | undefined, timeoutMs = 5_000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
