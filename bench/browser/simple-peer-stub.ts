/**
 * Stands in for simple-peer when bench/page-weight.ts builds the app without it, to weigh the
 * app's own code. That build is measured, never run.
 */
export default class SimplePeerStub {
  constructor() {
    throw new Error('simple-peer stub: built for the page-weight breakdown only');
  }
}
