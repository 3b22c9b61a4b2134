/**
 * What reads a connection's `getStats()`: the ICE report, its verdict, and the candidates' stats.
 * A chunk of its own in the page build (issue #13: chat first): only an open connection is read,
 * so peer-session.svelte.ts fetches it at the first reading, once a data channel is open.
 */
export { attachCandidateStats } from '../ice/candidate-rows.ts';
export { buildIceReport, verdict } from '../ice/ice-report.ts';
