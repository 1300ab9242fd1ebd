// `ringwire doctor`: checks this machine against a configuration given with
// serve's sizing options, prints what limits it and how to change it, and only
// changes something when asked (--apply, root only). Exit status: 0 when nothing
// limits the configuration, 1 when something does, 2 on bad options or a refusal.

import { parseArgs } from 'node:util';
import { joinNegativeValues } from '../units.ts';
import { applyFindings, checkCanApply } from './apply.ts';
import { renderJson, renderText } from './doctor-report.ts';
import type { Finding } from './finding.ts';
import { kernelChecks } from './kernel-checks.ts';
import { nicChecks } from './nic-checks.ts';
import { nodeChecks } from './node-checks.ts';
import { planFrom, type Plan } from './plan.ts';
import { processChecks } from './process-checks.ts';
import { SystemFiles } from './system-files.ts';

export const DOCTOR_HELP = `ringwire doctor — check this machine against a ringwire configuration

Usage:
  ringwire doctor [options]        print a table: setting, current value, what this
                                   configuration needs, the command that changes it

Reads /proc, /sys, ethtool (when installed) and the running Node, and changes
nothing unless asked. Exit status 0: nothing limits the configuration; 1: something
does; 2: bad options. Each setting is explained in docs/tuning-and-profiling.md.

The configuration, as for serve:
  --framing <spec>          (default raw)
  --max-connections <n>     connection slots per thread (default 1024)
  --max-frame <bytes>       largest frame payload (default 16k)
  --rx-ring <bytes>         the largest receive ring of a connection (default 64k, or what --max-frame needs)
  --max-memory <bytes>      the ring pool per thread (default: every connection at its largest rings, at most 1 GiB)
  --tx-ring <bytes>         transmit ring per connection (default 64k, or what --max-frame needs)
  --max-queued <bytes>      replies one connection may queue beyond its tx ring (as serve)
  --max-queued-total <bytes> replies all connections of a thread may queue (as serve)
  --max-reply <bytes>       the largest reply (as serve)
  --workers <n|auto>        worker threads (default 1)
  --backlog <n>             listen backlog to check the accept queue against (default 511, Node's)
Output and changes:
  --json                    one JSON object instead of the table
  --apply                   as root: raise the sysctls this configuration needs (and only those),
                            print each change and what it did not apply and why; writes below --root
  --root <dir>              read (and with --apply, write) proc/ and sys/ under <dir> instead of /:
                            a copy taken on another machine, or a fake tree in tests
  -h, --help                this text
`;

export async function gather(files: SystemFiles, plan: Plan): Promise<Finding[]> {
  return [...processChecks(files, plan), ...kernelChecks(files, plan), ...nicChecks(files), ...await nodeChecks(plan)];
}

export async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args: joinNegativeValues(args),
    strict: true,
    options: {
      framing: { type: 'string' },
      'max-connections': { type: 'string' },
      'max-frame': { type: 'string' },
      'rx-ring': { type: 'string' },
      'max-memory': { type: 'string' },
      'tx-ring': { type: 'string' },
      'max-queued': { type: 'string' },
      'max-queued-total': { type: 'string' },
      'max-reply': { type: 'string' },
      workers: { type: 'string' },
      backlog: { type: 'string' },
      json: { type: 'boolean', default: false },
      apply: { type: 'boolean', default: false },
      root: { type: 'string', default: '/' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(DOCTOR_HELP);
    return 0;
  }
  const plan = planFrom(values);
  const files = new SystemFiles(values.root);
  if (values.apply) checkCanApply(); // before reading or writing anything
  let findings = await gather(files, plan);
  if (values.apply) {
    const lines = applyFindings(files, findings);
    findings = await gather(files, plan); // the table shows the result
    (values.json ? process.stderr : process.stdout).write(`${lines.join('\n')}\n\n`);
  }
  process.stdout.write(values.json ? renderJson(plan, findings, files.root) : renderText(plan, findings, files.root));
  return findings.some(f => f.status === 'limit') ? 1 : 0;
}
