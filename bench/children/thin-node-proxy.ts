import { announceListening } from './child-ipc.js';
import { startThinProxy } from './thin-proxy.js';

/** The thinnest Node proxy (`startThinProxy`) in a process of its own: the bench's baseline. */
announceListening((await startThinProxy()).port);
