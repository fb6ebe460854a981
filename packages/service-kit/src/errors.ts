/** Any error class, abstract ones included (a package's base error may leave `code` to its subclasses). */
// biome-ignore lint/suspicious/noExplicitAny: a constructor type must accept any arguments to match every base.
export type ErrorClass = abstract new (...args: any[]) => Error;

/** A class `codedError` made: the base's constructor, instances of the base with `code` fixed to `C`. */
export interface CodedErrorClass<B extends ErrorClass, C extends string> {
  new (...args: ConstructorParameters<B>): InstanceType<B> & { readonly code: C };
  readonly prototype: InstanceType<B> & { readonly code: C };
}

/**
 * Makes a coded error class in one line (fastify's `createError(code, message)`): a subclass of `Base` whose
 * instances carry `code` and `name` as own properties. It takes `Base`'s constructor arguments unchanged
 * (`new X(message, { cause })` for an `Error`-like base, so `cause` is kept), `instanceof` works for it and for
 * `Base`, and the class's own `name` is `name`. An error with fields of its own stays a hand-written class.
 *
 * ```ts
 * export const ClaimHeldError = codedError(RunnerError, RunnerErrorCode.ClaimHeld, "ClaimHeldError");
 * ```
 */
export function codedError<B extends ErrorClass, const C extends string>(Base: B, code: C, name: string): CodedErrorClass<B, C> {
  // biome-ignore lint/suspicious/noExplicitAny: the base's constructor arguments are forwarded as they come.
  const Concrete = Base as unknown as new (...args: any[]) => Error;
  const Coded = class extends Concrete {
    // biome-ignore lint/suspicious/noExplicitAny: see above.
    constructor(...args: any[]) {
      super(...args);
      Object.assign(this, { code, name });
    }
  };
  Object.defineProperty(Coded, "name", { value: name });
  return Coded as unknown as CodedErrorClass<B, C>;
}

/**
 * The service is stopping: the message in hand is not handled here and goes back to its queue for
 * another replica (or this one, restarted). Code `shutting_down`; shared by every service so a
 * handler, a log line or a test tells it apart the same way.
 */
export const ShuttingDownError = codedError(Error, "shutting_down", "ShuttingDownError");
export type ShuttingDownError = InstanceType<typeof ShuttingDownError>;
