/**
 * The parts of class-validator the configuration uses, each loaded from its own file. The package's index loads every
 * validator it has (321 modules with validator.js and libphonenumber-js: ~0.1 s and ~20 MiB at start, for a
 * manager that uses six decorators); these files load 20. The types are the package's own.
 *
 * The rest of src imports class-validator through this file only (lint enforces it).
 */
import type * as ClassValidator from 'class-validator';
import type { ValidationError, ValidatorOptions } from 'class-validator';

/* eslint-disable @typescript-eslint/no-require-imports -- deep paths have no type declarations of their own */
const { IsIn } = require('class-validator/cjs/decorator/common/IsIn') as Pick<typeof ClassValidator, 'IsIn'>;
const { IsNotEmpty } = require('class-validator/cjs/decorator/common/IsNotEmpty') as Pick<
  typeof ClassValidator,
  'IsNotEmpty'
>;
const { IsOptional } = require('class-validator/cjs/decorator/common/IsOptional') as Pick<
  typeof ClassValidator,
  'IsOptional'
>;
const { IsInt } = require('class-validator/cjs/decorator/typechecker/IsInt') as Pick<
  typeof ClassValidator,
  'IsInt'
>;
const { Matches } = require('class-validator/cjs/decorator/string/Matches') as Pick<
  typeof ClassValidator,
  'Matches'
>;
const { Max } = require('class-validator/cjs/decorator/number/Max') as Pick<typeof ClassValidator, 'Max'>;
const { Min } = require('class-validator/cjs/decorator/number/Min') as Pick<typeof ClassValidator, 'Min'>;
const { registerDecorator } = require('class-validator/cjs/register-decorator') as Pick<
  typeof ClassValidator,
  'registerDecorator'
>;
const { Validator } = require('class-validator/cjs/validation/Validator') as Pick<
  typeof ClassValidator,
  'Validator'
>;
/* eslint-enable @typescript-eslint/no-require-imports */

export { IsIn, IsInt, IsNotEmpty, IsOptional, Matches, Max, Min, registerDecorator };
export type { ValidationArguments, ValidationError } from 'class-validator';

/** class-validator's validateSync for an object (the index's validateSync calls the same Validator). */
export function validateSync(object: object, options?: ValidatorOptions): ValidationError[] {
  return new Validator().validateSync(object, options);
}
