// `ringwire doctor --apply`: raise the sysctls the configuration needs, and
// nothing else. Only findings carrying an `apply` are written (a value derived
// from the configuration, always a raise: see atLeast); everything else the table
// flags is listed as not applied, with the reason. Root only: without root it
// refuses before writing anything. Writes go below the doctor's root directory,
// so with --root a test writes into its fake tree, never into /proc/sys.

import { configError } from '../core/errors.ts';
import type { Finding } from './finding.ts';
import type { SystemFiles } from './system-files.ts';

/**
 * Root, unless RINGWIRE_DOCTOR_UNPRIVILEGED=1 says to behave as if not: a seam that
 * can only make --apply refuse, for tests running as root where no unprivileged
 * user can read the checkout (test/doctor.test.ts).
 */
export const isRoot = () => process.getuid?.() === 0 && process.env.RINGWIRE_DOCTOR_UNPRIVILEGED !== '1';

/** Refuse --apply unless running as root. */
export function checkCanApply(root = isRoot()): void {
  if (!root) throw configError('--apply writes kernel settings and needs root; nothing was changed (run the commands in the table, or ringwire doctor --apply as root)');
}

/** Write each justified sysctl; return what happened, one line each, to print. */
export function applyFindings(files: SystemFiles, findings: Finding[]): string[] {
  const lines: string[] = [];
  const written: string[] = [];
  for (const f of findings) {
    if (f.apply) {
      const before = files.sysctl(f.apply.key);
      try {
        files.writeSysctl(f.apply.key, f.apply.value);
        const after = files.sysctl(f.apply.key);
        lines.push(`applied: ${f.apply.key} = ${after}  (was ${before})`);
        written.push(`${f.apply.key} = ${after}`);
      } catch (err) {
        lines.push(`failed: ${f.apply.key} = ${f.apply.value}: ${(err as Error).message}`);
      }
    } else if (f.status === 'limit') {
      lines.push(`not applied: ${f.setting}: not a sysctl the doctor may write${f.command ? `; ${f.command}` : ''}`);
    } else if (f.status === 'advice') {
      lines.push(`not applied: ${f.setting}: advice, not something this configuration needs`);
    }
  }
  if (written.length) {
    lines.push(`sysctl -w does not survive a reboot: to keep these, write them to /etc/sysctl.d/60-ringwire.conf:`, ...written.map(w => `  ${w}`));
  } else {
    lines.push('nothing to apply: every sysctl this configuration needs is already high enough');
  }
  return lines;
}
