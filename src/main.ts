import { startManager } from './bootstrap';

void startManager(process.env).then((app) => {
  if (app === undefined) process.exitCode = 1;
});
