import { startManager } from './bootstrap';

void startManager(process.env).then((manager) => {
  if (manager === undefined) process.exitCode = 1;
});
