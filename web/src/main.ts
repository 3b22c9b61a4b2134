import { mount } from 'svelte';
import App from './App.svelte';
import { startEarlySession } from './lib/room/early-session.ts';
import { roomIdFromPath } from './lib/room/room-id.ts';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
// A room link connects before the page mounts (issue #13): the room view claims this session.
const roomId = roomIdFromPath(location.pathname);
if (roomId) startEarlySession(roomId);
// In a microtask, behind the one in which the session replays what the early socket heard
// (connect.ts), so that the join is on its way while the page mounts.
queueMicrotask(() => mount(App, { target }));
