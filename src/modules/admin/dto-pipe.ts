import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { type ClassConstructor, plainToInstance } from 'class-transformer';
import { validateSync } from '../../config/class-validator';

/**
 * Validates route parameters or a query against a class-validator DTO: the instance, or 400 naming every bad field
 * with its value (`limit=abc: must be an integer from 1 to 1000`). Unknown fields are refused too, so a misspelt
 * parameter is not silently ignored. (Nest's ValidationPipe would load class-validator's index: every validator.)
 */
export class DtoPipe<T extends object> implements PipeTransform<unknown, T> {
  constructor(private readonly dto: ClassConstructor<T>) {}

  transform(value: unknown): T {
    const plain = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const problems: string[] = [];
    const instance = plainToInstance(this.dto, plain);
    for (const error of validateSync(instance, { whitelist: true, forbidNonWhitelisted: true })) {
      const given = plain[error.property];
      const reason = Object.values(error.constraints ?? {})[0] ?? 'is invalid';
      problems.push(
        reason.startsWith('property ')
          ? `${error.property}: unknown parameter`
          : `${error.property}=${typeof given === 'string' ? given : JSON.stringify(given)}: ${reason}`,
      );
    }
    if (problems.length > 0) throw new BadRequestException(problems.join('; '));
    return instance;
  }
}
