import { MutationException, MutationExceptionCode } from '../modules/mutation/mutation.exception';
import { PoolException, PoolExceptionCode } from '../modules/pool/pool.exception';

describe('CodedException', () => {
  it('keeps the code, the message and the subclass name, and stays an Error', () => {
    const error = new PoolException(PoolExceptionCode.POOL_EXHAUSTED, 'the range is full');
    expect(error).toBeInstanceOf(PoolException);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('POOL_EXHAUSTED');
    expect(error.message).toBe('the range is full');
    expect(error.name).toBe('PoolException');
    expect(String(new MutationException(MutationExceptionCode.MAC_MULTICAST, 'x'))).toBe(
      'MutationException: x',
    );
  });

  it('carries a cause', () => {
    const cause = new Error('low level');
    expect(new PoolException(PoolExceptionCode.RANGE_INVALID, 'bad', { cause }).cause).toBe(cause);
  });
});
