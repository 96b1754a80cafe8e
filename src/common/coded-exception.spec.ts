import { CodedException } from './coded-exception';

enum ExampleCode {
  BROKEN = 'BROKEN',
}
class ExampleException extends CodedException<ExampleCode> {}

describe('CodedException', () => {
  it('keeps the code, the message and the subclass name, and stays an Error', () => {
    const error = new ExampleException(ExampleCode.BROKEN, 'it broke');
    expect(error).toBeInstanceOf(ExampleException);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('BROKEN');
    expect(error.message).toBe('it broke');
    expect(error.name).toBe('ExampleException');
    expect(String(error)).toBe('ExampleException: it broke');
  });

  it('carries a cause', () => {
    const cause = new Error('low level');
    expect(new ExampleException(ExampleCode.BROKEN, 'bad', { cause }).cause).toBe(cause);
  });
});
