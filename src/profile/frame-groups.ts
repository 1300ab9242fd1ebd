// Which part of the pipeline a function in a CPU profile belongs to, from its
// script URL: Node's own code, ringwire's host code, the WASM core, the user's
// handler, or other. Two frames need their callers too (cpu-profile.ts does it):
//   - a native function has no URL: it belongs to its caller's group, so the
//     work under a handler's Node API call counts as the handler's; but the
//     stream handle's own natives (writeBuffer, writev, readStart, shutdown, …:
//     the write(2) and read(2) under them) are always Node internals, also when
//     ringwire calls them directly (the direct write path, direct-write.ts);
//   - Node's own code called by the handler (crypto, Buffer, …) is the handler's
//     work, so it counts as the handler; called by ringwire or by the event loop,
//     it is Node internals.

import { dirname, join, sep } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type Group = 'node' | 'ringwire' | 'wasm' | 'handler' | 'other' | 'idle';

export const GROUP_TITLES: Record<Group, string> = {
  node: 'Node internals (streams, net, natives under them)',
  ringwire: 'ringwire host code',
  wasm: 'WASM core',
  handler: 'user handler (its code and the Node APIs it calls)',
  other: 'other (GC, V8 without a JS frame)',
  idle: 'idle (event loop outside JS: epoll and libuv\'s reads)',
};

/** The directory of the ringwire package this code runs from (the one with its package.json). */
export function ringwireRoot(from = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ringwire') return dir;
    if (dirname(dir) === dir) return dirname(from);
  }
}

/** The libuv stream handle's methods: Node's C++ and the kernel under it, whoever calls them. */
const HANDLE_NATIVES = new Set([
  'writeBuffer', 'writev', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String',
  'readStart', 'readStop', 'shutdown', 'useUserBuffer',
]);

export interface Classifier {
  /** The group of a frame with this function name and URL; undefined for a native (ask its caller). */
  (functionName: string, url: string): Group | undefined;
}

/**
 * ringwire's own code is what lies in its package's dist/ or src/ (or any
 * node_modules/ringwire/); every other file: URL is the user's: the handler and
 * whatever it imports. Node's own modules have node: URLs.
 */
export function classifier(root = ringwireRoot()): Classifier {
  const own = [join(root, 'dist') + sep, join(root, 'src') + sep].map(p => pathToFileURL(p).href);
  return (functionName, url) => {
    if (functionName === '(idle)') return 'idle';
    if (functionName.startsWith('(')) return 'other'; // (program), (garbage collector), (root)
    if (url === '') return HANDLE_NATIVES.has(functionName) ? 'node' : undefined;
    if (url.startsWith('wasm://')) return 'wasm';
    if (url.startsWith('node:') || !url.includes(':')) return 'node'; // node:net, or internal/… in older Nodes
    if (own.some(p => url.startsWith(p)) || url.includes('/node_modules/ringwire/')) return 'ringwire';
    return 'handler';
  };
}
