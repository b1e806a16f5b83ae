// The one error type of the package: the core's own message, unchanged, so an error in the
// browser reads like the same error from the native CLI.
export class EdgerecError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EdgerecError';
  }
}
