// Throwaway certificates for TLS benchmarks and tests, made at run time with the
// openssl command line (Debian's openssl; Node can verify certificates but not
// issue them): a CA, a server certificate it signs for 127.0.0.1 and localhost,
// a client certificate it signs, and a client certificate signed by a second,
// untrusted CA. EC P-256 keys, so the whole set takes a fraction of a second.
// Made fresh each run into a temporary directory: no private key is committed,
// and nothing expires in the repository.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface TestCertificates {
  /** The CA that signed server and client. */
  ca: Buffer;
  /** For 127.0.0.1 and localhost. */
  server: KeyPair;
  /** Signed by ca. */
  client: KeyPair;
  /** Signed by another CA that nobody trusts. */
  rogueClient: KeyPair;
  /** The directory holding them as files (ca.crt, server.crt, server.key…), for command-line tools. */
  dir: string;
  /** Remove the directory. */
  remove: () => void;
}

const OPENSSL = process.env.RINGWIRE_OPENSSL ?? 'openssl';

/** Is the openssl command there? */
export function hasOpenssl(): boolean {
  try {
    execFileSync(OPENSSL, ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let forBench: (TestCertificates & { files: { cert: string; key: string } }) | undefined;

/** One set for this process's benchmark servers and load generators, made on first use and removed at exit. */
export function benchCertificates(): TestCertificates & { files: { cert: string; key: string } } {
  if (!forBench) {
    const made = makeTestCertificates();
    process.once('exit', made.remove);
    forBench = { ...made, files: { cert: path.join(made.dir, 'server.crt'), key: path.join(made.dir, 'server.key') } };
  }
  return forBench;
}

/** Make a CA, a server and two client certificates (valid two days) in a new temporary directory. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringwire-tls-'));
  const run = (...args: string[]) => execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) => run('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=ringwire test ${name}`);
  let serial = 1;
  const sign = (name: string, by: string, ext: string) => {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=ringwire test ${name}`);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.crt`, '-CAkey', `${by}.key`, '-set_serial', String(serial++), '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`);
  };
  try {
    ca('ca');
    ca('rogue-ca');
    sign('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    sign('client', 'ca', 'extendedKeyUsage=clientAuth\n');
    sign('rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`could not make test certificates with ${OPENSSL} (install Debian's openssl): ${stderr || (err as Error).message}`);
  }
  const read = (f: string) => readFileSync(path.join(dir, f));
  const pair = (name: string): KeyPair => ({ cert: read(`${name}.crt`), key: read(`${name}.key`) });
  return {
    ca: read('ca.crt'),
    server: pair('server'),
    client: pair('client'),
    rogueClient: pair('rogue-client'),
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
