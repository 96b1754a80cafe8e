import { readFileSync } from 'node:fs';

/** One line of the manager's JSON log (Nest's ConsoleLogger with json and flattenParams: fields are top-level keys). */
export interface LogRecord {
  level: string;
  context?: string;
  message: unknown;
  [field: string]: unknown;
}

/** Every JSON record of a manager's log file; other lines (a crash's stack trace) are skipped. */
export function logRecords(path: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // a line cut short by kill -9
    }
  }
  return records;
}
