// Where several listening sockets can share one port (SO_REUSEPORT through
// listen({ reusePort: true })): the kernel gives each new connection to one of
// them. Worker threads use it to share a port; one thread uses it to accept
// faster (listener-set.ts).

/** Platforms where Node honours listen({ reusePort: true }). */
export const REUSEPORT_PLATFORMS: ReadonlySet<string> = new Set(['linux', 'freebsd', 'dragonfly', 'sunos', 'aix']);

/** Does this Node honour listen({ reusePort: true })? From 22.12 (and 23.1). */
export function canReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** Can this process share a port between listening sockets here? */
export function portSharing(): boolean {
  return REUSEPORT_PLATFORMS.has(process.platform) && canReusePort();
}
