/**
 * The base of every module's exception: a string code that tells the cases apart without parsing messages (mapped
 * to a status in one place per surface, e.g. admission.status.ts), and a message that names the object and the value.
 */
export abstract class CodedException<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
