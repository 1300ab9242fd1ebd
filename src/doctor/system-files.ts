// The files the doctor reads (/proc, /sys) and the only ones it may write
// (/proc/sys, for --apply), all below one root directory: "/" on a real machine,
// a directory of fake files in tests or for checking a copy taken elsewhere.
// Reads never throw: a file that is missing or unreadable is `undefined`, and the
// check that wanted it says "unknown" rather than guessing.

import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sysctlPath } from './finding.ts';

export class SystemFiles {
  readonly root: string;

  constructor(root = '/') {
    this.root = root;
  }

  /** Is this the machine itself (root "/"), rather than a tree of fake files? */
  get real(): boolean {
    return this.root === '/';
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  read(...parts: string[]): string | undefined {
    try {
      return readFileSync(this.path(...parts), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  list(...parts: string[]): string[] {
    try {
      return readdirSync(this.path(...parts)).sort();
    } catch {
      return [];
    }
  }

  link(...parts: string[]): string | undefined {
    try {
      return readlinkSync(this.path(...parts));
    } catch {
      return undefined;
    }
  }

  /** A sysctl's value as the kernel prints it (fields separated by single spaces). */
  sysctl(key: string): string | undefined {
    return this.read('proc/sys', sysctlPath(key))?.split(/\s+/).join(' ');
  }

  /** A numeric sysctl, or its field-th field for vectors like tcp_rmem ("min default max"). */
  sysctlNumber(key: string, field = 0): number | undefined {
    const value = this.sysctl(key)?.split(' ')[field];
    return value === undefined || !/^-?\d+$/.test(value) ? undefined : Number(value);
  }

  writeSysctl(key: string, value: string): void {
    writeFileSync(this.path('proc/sys', sysctlPath(key)), `${value}\n`);
  }
}
