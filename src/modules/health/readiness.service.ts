import { Injectable } from '@nestjs/common';

/** A named readiness condition: returns why the replica is not ready, or undefined when it is. */
export type ReadinessCheck = () => string | undefined;

/**
 * Readiness of this replica, made of the conditions the modules register (serving certificate loaded, pool rebuilt,
 * ...). Liveness does not depend on it: a replica waiting for the API server is alive, just not ready.
 */
@Injectable()
export class ReadinessService {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Every failing condition as `name: reason`; empty when ready. */
  problems(): string[] {
    const problems: string[] = [];
    for (const [name, check] of this.checks) {
      const problem = check();
      if (problem !== undefined) problems.push(`${name}: ${problem}`);
    }
    return problems;
  }
}
