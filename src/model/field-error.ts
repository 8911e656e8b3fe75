// Input that parsed but cannot be saved as asked (a destination's macros, a link naming no partner):
// answered as a 400 whose problem names `field`, the input field at fault.
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a request would remove or change is still used by something else (a partner its links name). */
export class InUseError extends Error {}
