// Kills a control plane's processes and removes its directory when the process that started it is gone, even if
// that process was killed with SIGKILL and could run no clean-up of its own.
// Usage: node watchdog.js <parent-pid> <directory> <child-pid>...   (directory `-`: none to remove)
'use strict';
const { rmSync } = require('node:fs');

const [parentPid, directory, ...childPids] = process.argv.slice(2);

function alive(pid) {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

const timer = setInterval(() => {
  if (alive(parentPid)) return;
  clearInterval(timer);
  for (const pid of childPids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (directory !== '-') rmSync(directory, { recursive: true, force: true });
}, 500);
