import { BadRequestException } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, Matches, Max, Min } from '../../config/class-validator';
import { DNS_LABEL, IsMacAddress } from '../../config/environment';

export const ALLOCATION_KINDS = ['pod', 'vm'] as const;
export type AllocationKind = (typeof ALLOCATION_KINDS)[number];

/** Most allocations one page holds (and the default page size). */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

/** `GET /api/v1/macs/{mac}`: a MAC in any notation the webhook accepts (colon, hyphen, dotted). */
export class MacParams {
  @IsNotEmpty({ message: 'is required' })
  @IsMacAddress()
  mac!: string;
}

/** `GET /api/v1/allocations?namespace=&kind=&limit=&continue=`. */
export class AllocationsQuery {
  @IsOptional()
  @Matches(DNS_LABEL, { message: 'must be a namespace name (a DNS-1123 label)' })
  namespace?: string;

  @IsOptional()
  @IsIn(ALLOCATION_KINDS, { message: `must be one of ${ALLOCATION_KINDS.join(', ')}` })
  kind?: AllocationKind;

  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: `must be an integer from 1 to ${MAX_PAGE}` })
  @Min(1, { message: `must be an integer from 1 to ${MAX_PAGE}` })
  @Max(MAX_PAGE, { message: `must be an integer from 1 to ${MAX_PAGE}` })
  limit?: number;

  /** The `continue` of the previous page, as it was returned. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,2048}$/, { message: 'must be the continue token of a previous page' })
  continue?: string;
}

/** A `continue` that is no token this API returned. */
export class BadTokenException extends BadRequestException {
  constructor(token: string) {
    super(`continue=${token}: must be the continue token of a previous page`);
  }
}
