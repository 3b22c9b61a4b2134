/**
 * The diagnostics' analysis: the NAT classification, the forecast, the failure explanation, the
 * TURN test's verdict and the safety code, with their long explanation texts. None of it is
 * needed to open a data channel, so the room session loads this module (its own chunk) once the
 * room view is up, while signaling connects (issue #13, "chat first"), and the page's first
 * script stays small.
 *
 * Until it has loaded, the session has the raw material (the probe's gathering, the other side's
 * report as received) and shows no verdict; nothing waits on it to connect or chat.
 */
export { classifyNat, parseNatReport } from '../nat/nat-classifier.ts';
export { forecast, forecastHeld } from '../nat/forecast.ts';
export { checkTurn } from '../nat/turn-check.ts';
export { countPairs, explainFailure } from './failure.ts';
export { sdpFingerprint, shortAuthString } from '../peer/sas.ts';

/** This module's exports, as the session holds them once loaded. */
export type Analysis = typeof import('./analysis.ts');
