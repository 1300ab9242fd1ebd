// Renders the contract table (contract/core-contract.ts) into the files both
// sides compile: constants for AssemblyScript and TypeScript, the core's
// configuration globals with the loader init() calls, and the host's typed
// reader and writer of the same header words. Pure: it returns file contents;
// scripts/generate-contract.ts writes them, test/contract.test.ts compares them.
// It also checks the table (sizes fit, numbers fit their counters) and throws
// rather than render a contract that cannot hold.

import * as T from './core-contract.ts';

const NOTICE = 'GENERATED from contract/core-contract.ts by scripts/generate-contract.ts (npm run build): do not edit.';

interface Constant {
  name: string;
  value: number;
  doc: string;
  /** AssemblyScript type. */
  as: 'u32' | 'i32';
}

interface Section {
  title: string;
  constants: Constant[];
}

/** Every constant, in sections, numbered from the table; throws if the table cannot hold. */
function contractConstants(): Section[] {
  const byName = new Map(T.constants.map(c => [c.name, c.value]));
  const need = (name: string) => {
    const v = byName.get(name);
    if (v === undefined) throw new Error(`contract: constant ${name} is missing`);
    return v;
  };
  const numbered = (list: T.Entry[], as: 'u32' | 'i32' = 'u32', from = 0) => list.map((e, i) => ({ name: e.name, value: from + i, doc: e.doc, as }));
  const fail = (why: string) => {
    throw new Error(`contract: ${why}`);
  };

  const config: Constant[] = [];
  let word = 0;
  for (const f of T.headerConfig) {
    if ((f.type === 'bytes') !== (f.words !== undefined)) fail(`${f.name}: a bytes field, and only one, takes words`);
    config.push({ name: f.name, value: word, doc: f.doc, as: 'u32' });
    word += f.words ?? 1;
  }
  const configWords = word;
  const state = numbered(T.headerState, 'u32', configWords);
  const headerWords = configWords + state.length;
  if (headerWords * 4 > need('HEADER_SIZE')) fail(`${headerWords} header words do not fit in HEADER_SIZE`);
  const bytesFields = T.headerConfig.filter(f => f.type === 'bytes').map(f => ({
    name: `${f.name.replace(/^H_/, '')}_MAX`,
    value: f.words! * 4,
    doc: `bytes ${f.name} holds`,
    as: 'u32' as const,
  }));

  const counters: Constant[] = [];
  let counter = 0;
  for (const c of T.stats) {
    counters.push({ name: c.name, value: counter, doc: c.doc, as: 'u32' });
    counter += c.count ?? 1;
  }
  for (const name of ['S_ERROR_BY_CODE', 'S_CLOSED_BY_ERROR']) {
    const byNumber = T.stats.find(c => c.name === name);
    if (!byNumber || (byNumber.count ?? 1) < T.errors.length) fail(`${name} needs a counter per error number`);
  }

  const slotWords = T.slotState.length + T.slotFixed.length;
  if (slotWords * 4 > need('SLOT_SIZE')) fail(`${slotWords} slot words do not fit in SLOT_SIZE`);

  const wsWords = T.websocketSlot.length;
  if (wsWords * 4 > need('WS_SLOT_SIZE')) fail(`${wsWords} websocket slot words do not fit in WS_SLOT_SIZE`);

  return [
    { title: 'Sizes and markers', constants: T.constants.map(c => ({ ...c, as: 'u32' })) },
    {
      title: 'Header: configuration words (u32 index from LAYOUT_BASE), written by the host before init()',
      constants: [
        ...config,
        { name: 'HEADER_CONFIG_WORDS', value: configWords, doc: 'words the configuration takes', as: 'u32' },
        ...bytesFields,
      ],
    },
    { title: 'Header: state words, kept by the core', constants: state },
    {
      title: 'Stats counters (i64 index from the stats offset)',
      constants: [
        ...counters,
        { name: 'STATS_COUNT', value: counter, doc: 'i64 counters in the block', as: 'u32' },
        { name: 'STATS_SIZE', value: counter * 8, doc: 'bytes of the block', as: 'u32' },
      ],
    },
    {
      title: 'Slot words (u32 index from the slot\'s address)',
      constants: [
        ...numbered(T.slotState),
        ...T.slotAliases.map(a => {
          const at = T.slotState.findIndex(e => e.name === a.of);
          if (at < 0) fail(`${a.name}: no slot word ${a.of}`);
          return { name: a.name, value: at, doc: `${a.doc} (the word of ${a.of})`, as: 'u32' as const };
        }),
        { name: 'SLOT_STATE_WORDS', value: T.slotState.length, doc: 'the words open() clears: every word before the fixed ones', as: 'u32' },
        ...numbered(T.slotFixed, 'u32', T.slotState.length),
      ],
    },
    {
      title: 'Frame list entries (u32 words each)',
      constants: [...numbered(T.frameEntry), { name: 'FRAME_WORDS', value: T.frameEntry.length, doc: 'words per entry', as: 'u32' }],
    },
    ...Object.entries(T.codes).map(([group, g]) => ({ title: `Codes: ${group}`, constants: numbered(g.entries, g.type) })),
    {
      title: 'Error numbers',
      constants: T.errors.map((e, i) => ({ name: e.name, value: i, doc: `${e.code}: ${e.doc} (found by the ${e.by})`, as: 'u32' as const })),
    },
    {
      title: 'WebSocket slot words (u32 index from H_WS_OFF + slot * WS_SLOT_SIZE)',
      constants: [...numbered(T.websocketSlot), { name: 'WS_SLOT_WORDS', value: wsWords, doc: 'websocket words per slot, all cleared by open()', as: 'u32' }],
    },
    { title: 'WebSocket rules (errorSize() after ERR_WEBSOCKET_PROTOCOL)', constants: numbered(T.websocketRules) },
  ];
}

const hex = (c: Constant) => (c.name === 'MAGIC' ? `0x${c.value.toString(16)}` : String(c.value));

/** assembly/contract.ts: the constants. */
function renderAssemblyContract(): string {
  const out = [
    `// ${NOTICE}`,
    '// The core\'s constants. assembly/index.ts re-exports them so that the contract',
    '// test can compare build/core.wasm with src/core/contract.ts.',
  ];
  for (const s of contractConstants()) {
    out.push('', `// ${s.title}`);
    for (const c of s.constants) out.push(`/** ${c.doc} */`, `export const ${c.name}: ${c.as} = ${hex(c)};`);
  }
  return `${out.join('\n')}\n`;
}

const asType: Record<T.FieldType, string> = { u32: 'u32', i32: 'i32', bool: 'bool', bytes: 'u32' };

/** assembly/config.ts: one global per configuration word, and loadConfig(). */
function renderAssemblyConfig(): string {
  const out = [
    `// ${NOTICE}`,
    '// The core\'s configuration: the header words the host wrote, read once by',
    '// loadConfig() (init() calls it) into globals for the hot path, never written',
    '// after. A bytes field is held as the address of its bytes in the header.',
    '',
    `import { LAYOUT_BASE, ${T.headerConfig.map(f => f.name).join(', ')} } from "./contract";`,
    '',
  ];
  for (const f of T.headerConfig) {
    out.push(`/** ${f.doc}${f.type === 'bytes' ? ' (their address)' : ''} */`, `export let ${f.field}: ${asType[f.type]} = ${f.type === 'bool' ? 'false' : '0'};`);
  }
  out.push('', '/** Read every configuration word of the header into the globals above. */', 'export function loadConfig(): void {');
  for (const f of T.headerConfig) {
    const at = `LAYOUT_BASE + ${f.name} * 4`;
    if (f.type === 'bytes') out.push(`  ${f.field} = ${at};`);
    else if (f.type === 'bool') out.push(`  ${f.field} = load<u32>(${at}) != 0;`);
    else out.push(`  ${f.field} = load<${f.type}>(${at});`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

const tsType: Record<T.FieldType, string> = { u32: 'number', i32: 'number', bool: 'boolean', bytes: 'Uint8Array' };

/** src/core/contract.ts: the constants, HeaderConfig, and its reader and writer. */
function renderHostContract(): string {
  const out = [
    `// ${NOTICE}`,
    '// The TypeScript side of the core\'s contract: the same constants as',
    '// assembly/contract.ts, and the header\'s configuration words as one typed',
    '// object. readHeaderConfig() is the twin of loadConfig() in assembly/config.ts.',
    '// Words are little-endian, as WebAssembly memory is on every host.',
  ];
  for (const s of contractConstants()) {
    out.push('', `// ${s.title}`);
    for (const c of s.constants) out.push(`/** ${c.doc} */`, `export const ${c.name} = ${hex(c)};`);
  }
  out.push('', '/** Error constants\' names by number (the index). */');
  out.push(`export const ERROR_NAMES = [${T.errors.map(e => `'${e.name}'`).join(', ')}] as const;`);
  out.push('export type ErrorName = (typeof ERROR_NAMES)[number];');
  out.push('/** Error codes by number (the index); two numbers may share one. */');
  out.push(`export const ERROR_CODES = [${T.errors.map(e => `'${e.code}'`).join(', ')}] as const;`);
  out.push('export type ErrorCode = (typeof ERROR_CODES)[number];')
  out.push('/** Error numbers the cores find (and count themselves), by number (the index); the host counts the rest. */');
  out.push(`export const ERROR_BY_CORE: readonly boolean[] = [${T.errors.map(e => String(e.by === 'core')).join(', ')}];`);;
  out.push('', '/** The header\'s configuration words, as the host writes them and both cores read them. */', 'export interface HeaderConfig {');
  for (const f of T.headerConfig) out.push(`  /** ${f.doc} */`, `  ${f.field}: ${tsType[f.type]};`);
  out.push('}');

  out.push(
    '',
    '/** Read the configuration words from a core\'s memory (a bytes field is a view, not a copy). */',
    'export function readHeaderConfig(memory: SharedArrayBuffer): HeaderConfig {',
    '  const u32 = new Uint32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);',
    '  const i32 = new Int32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);',
    '  return {',
  );
  for (const f of T.headerConfig) {
    if (f.type === 'bytes') out.push(`    ${f.field}: new Uint8Array(memory, LAYOUT_BASE + ${f.name} * 4, ${f.words! * 4}),`);
    else if (f.type === 'bool') out.push(`    ${f.field}: u32[${f.name}] !== 0,`);
    else if (f.type === 'i32') out.push(`    ${f.field}: i32[${f.name}]!,`);
    else out.push(`    ${f.field}: u32[${f.name}]!,`);
  }
  out.push('  };', '}');

  out.push(
    '',
    '/** Write the configuration words into a core\'s memory; a bytes field is zero-padded. */',
    'export function writeHeaderConfig(memory: SharedArrayBuffer, h: HeaderConfig): void {',
    '  const u32 = new Uint32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);',
    '  const i32 = new Int32Array(memory, LAYOUT_BASE, HEADER_CONFIG_WORDS);',
    '  const u8 = new Uint8Array(memory);',
  );
  for (const f of T.headerConfig) {
    if (f.type === 'bytes') {
      const n = f.words! * 4;
      out.push(
        `  if (h.${f.field}.length > ${n}) throw new RangeError('${f.field}: at most ${n} bytes');`,
        `  u8.fill(0, LAYOUT_BASE + ${f.name} * 4, LAYOUT_BASE + ${f.name} * 4 + ${n});`,
        `  u8.set(h.${f.field}, LAYOUT_BASE + ${f.name} * 4);`,
      );
    } else if (f.type === 'bool') out.push(`  u32[${f.name}] = h.${f.field} ? 1 : 0;`);
    else if (f.type === 'i32') out.push(`  i32[${f.name}] = h.${f.field};`);
    else out.push(`  u32[${f.name}] = h.${f.field};`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Every generated file, by path from the repository root. */
export function renderContract(): Record<string, string> {
  return {
    'assembly/contract.ts': renderAssemblyContract(),
    'assembly/config.ts': renderAssemblyConfig(),
    'src/core/contract.ts': renderHostContract(),
  };
}
