/**
 * simple-peer and nothing else, for the page-weight breakdown (bench/page-weight.ts): what the
 * library and the Node polyfills it pulls in weigh without our code.
 */
import SimplePeer from '@thaunknown/simple-peer/lite.js';

(globalThis as { SimplePeer?: unknown }).SimplePeer = SimplePeer;
