// A config file is input from outside. This test mutates the repository's
// config files a few hundred times (a seeded PRNG, so every run makes the same
// files) and checks that loading and validating each one either succeeds or
// fails with a located MlserveError: never MLS_INTERNAL, never a TypeError,
// never a value YAML made that is not a string, number, boolean, list or mapping.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {parse, stringify} from 'yaml'
import {parseProject} from '../../src/config/index.js'
import {MlserveError} from '../../src/errors.js'
import {repoRoot} from '../helpers/cli.js'
import {mulberry32} from '../../src/loadtest/schedule.js'

const MUTANTS_PER_FILE = 30

// The load generator's seeded PRNG (mulberry32): the same seed gives the same mutants.
const prng = mulberry32

type Random = ReturnType<typeof prng>
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]
/** A fresh copy of one of the strange values, so no mutant shares (or loops through) a constant. */
const strange = (random: Random): unknown => structuredClone(pick(random, STRANGE_VALUES))

const sources: Array<{name: string; text: string}> = [
  ...readdirSync(join(repoRoot, 'test', 'fixtures', 'cortex'))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({name: `cortex/${f}`, text: readFileSync(join(repoRoot, 'test', 'fixtures', 'cortex', f), 'utf8')})),
  {name: 'config/good.yaml', text: readFileSync(join(repoRoot, 'test', 'fixtures', 'config', 'good.yaml'), 'utf8')},
]

// ---------------------------------------------------------------------------
// Mutations of the parsed tree (written back with yaml's stringify)

const STRANGE_VALUES: readonly unknown[] = [
  'two', '', ' ', 0, -1, 0.5, 1e308, -1e308, 2 ** 53 + 1, 1_000_000_000, '1e308', '1e999999999', 'NaN', 'Infinity', '-Infinity',
  Number.POSITIVE_INFINITY, Number.NaN, true, false, null, [], {}, [1, 'a', null], {a: {b: {c: 1}}}, '10 parsecs', '-5s', '0',
  '200m', '1e20', '512Mi', '99999999999999999999Gi', 'ünïcødé', '💥', '\u0000', '\u202e', 'a'.repeat(10_000), '/predict', 's3://x/y',
]

const STRANGE_KEYS = ['toString', '__proto__', 'constructor', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'prototype', 'ünïcødé', '💥', '', ' ', '0', 'predictor', 'kind', 'handler', 'min_replicas']

type Node = Record<string, unknown> | unknown[]

/** Every mapping and list in the tree, with the tree itself first. */
function containers(root: unknown): Node[] {
  const found: Node[] = []
  const visit = (value: unknown) => {
    if (Array.isArray(value)) {
      found.push(value)
      value.forEach(visit)
    } else if (typeof value === 'object' && value !== null) {
      found.push(value as Record<string, unknown>)
      Object.values(value).forEach(visit)
    }
  }
  visit(root)
  return found
}

function nest(random: Random, value: unknown): unknown {
  const depth = 5 + Math.floor(random() * 60)
  let nested = value
  for (let i = 0; i < depth; i++) nested = random() < 0.5 ? [nested] : {deeper: nested}
  return nested
}

const TREE_OPS = ['replace', 'delete', 'strangeKey', 'nest', 'swapContainer', 'copySibling'] as const

function mutateTree(random: Random, root: unknown, op: (typeof TREE_OPS)[number] = pick(random, TREE_OPS)): unknown {
  const node = pick(random, containers(root))
  const keys: Array<string | number> = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
  const set = (key: string | number, value: unknown) => {
    if (Array.isArray(node)) node[Number(key)] = value
    else Object.defineProperty(node, String(key), {value, enumerable: true, writable: true, configurable: true})
  }
  if (keys.length === 0 || op === 'strangeKey') {
    if (Array.isArray(node)) node.push(strange(random))
    else set(pick(random, STRANGE_KEYS), strange(random))
    return root
  }
  const key = pick(random, keys)
  if (op === 'replace') set(key, strange(random))
  else if (op === 'delete') {
    if (Array.isArray(node)) node.splice(Number(key), 1)
    else delete node[String(key)]
  } else if (op === 'nest') set(key, nest(random, (node as Record<string, unknown>)[String(key)]))
  else if (op === 'swapContainer') {
    const value = (node as Record<string, unknown>)[String(key)]
    set(key, Array.isArray(value) ? Object.fromEntries(value.map((v, i) => [String(i), v])) : typeof value === 'object' && value !== null ? Object.values(value) : [value])
  } else {
    const other = pick(random, containers(root))
    set(key, structuredClone(other))
  }
  return root
}

// ---------------------------------------------------------------------------
// Mutations of the text (what a tree cannot express)

const TAGS = ['!!binary', '!!set', '!!timestamp', '!!omap', '!!pairs', '!!float', '!!int', '!!str', '!!map', '!!seq', '!foo', '!<tag:example.com,2000:x>', '!!python/object:os.system']

const TEXT_OPS = ['truncate', 'duplicateLine', 'tag', 'tagDocument', 'alias', 'mergeKey', 'unicode', 'indent', 'deepFlow', 'splice'] as const

function mutateText(random: Random, text: string, op: (typeof TEXT_OPS)[number] = pick(random, TEXT_OPS)): string {
  const lines = text.split('\n')
  const at = Math.floor(random() * lines.length)
  switch (op) {
    case 'truncate':
      return text.slice(0, Math.floor(random() * text.length))
    case 'duplicateLine':
      lines.splice(at, 0, lines[at])
      return lines.join('\n')
    case 'tag':
      lines[at] = lines[at].replace(/:(\s+)(\S)/, `:$1${pick(random, TAGS)} $2`)
      return lines.join('\n')
    case 'tagDocument':
      return random() < 0.5 ? `--- !!binary\nR0lGODlhDAAMAIQAAP//9/X17unp5WZmZgAAAOfn515eXvPz7Y6OjuDg4J+fn5\n` : `--- ${pick(random, TAGS)}\n${text}`
    case 'alias': {
      const anchor = lines.findIndex((l) => /:\s*$/.test(l))
      if (anchor < 0) return `${text}\nextra: *nowhere\n`
      lines[anchor] = `${lines[anchor]} &a`
      lines.push(random() < 0.5 ? 'compute: *a' : `- *a`)
      return lines.join('\n')
    }
    case 'mergeKey':
      lines.splice(at, 0, `${lines[at].match(/^\s*(- )?/)?.[0].replace('- ', '  ') ?? ''}<<: ${pick(random, ['*a', '{cpu: 1}', '[1, 2]', '5', 'null'])}`)
      return lines.join('\n')
    case 'unicode':
      lines[at] = lines[at].replace(/[a-z]/, pick(random, ['ı', 'ſ', 'K', '\u200b', 'е', 'ｐ', '\ufeff']))
      return lines.join('\n')
    case 'indent':
      lines[at] = random() < 0.5 ? ` ${lines[at]}` : lines[at].replace(/^ /, '')
      return lines.join('\n')
    case 'deepFlow': {
      const depth = 10 + Math.floor(random() * 2000)
      lines[at] = lines[at].replace(/:\s+\S.*$/, `: ${'['.repeat(depth)}1${']'.repeat(depth)}`)
      return lines.join('\n')
    }
    case 'splice': {
      const start = Math.floor(random() * text.length)
      return text.slice(0, start) + pick(random, ['\t', '"', "'", '{', '}', '[', ']', ':', '- ', '#', '&', '*', '%YAML 1.1\n', '|\n', '>-\n', '\r', '?']) + text.slice(start)
    }
  }
}

// ---------------------------------------------------------------------------

/** Values a loaded config may hold: what JSON can say, plus the numbers YAML can (.inf, .nan) in free-form config. */
function strangeValue(value: unknown, path = ''): string | undefined {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return undefined
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = strangeValue(v, `${path}[${i}]`)
      if (found) return found
    }
    return undefined
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      const found = strangeValue(v, `${path}.${k}`)
      if (found) return found
    }
    return undefined
  }
  return `${path}: ${Object.prototype.toString.call(value)}`
}

/** Loads one mutant; returns what went wrong, or undefined when it loaded or failed as a config error should. */
function check(text: string, runnable: boolean): string | undefined {
  const file = join(repoRoot, 'test', 'fixtures', 'cortex', 'mutant.yaml')
  try {
    const project = parseProject(text, file, {runnable})
    const strange = strangeValue(project.apis)
    if (strange) return `loaded a value that is not plain data: ${strange}`
    for (const w of project.warnings) {
      if (!(w.line > 0 && w.column > 0)) return `unlocated warning: ${w.message}`
      // A key named like an Object method is an unknown key, never a known Cortex field.
      if (/(?:^|[.› ])(?:toString|__proto__|constructor|valueOf|hasOwnProperty|isPrototypeOf|prototype) is a Cortex field/.test(w.message)) return `prototype key taken for a field: ${w.message}`
    }
    return undefined
  } catch (error) {
    // Anything but an MlserveError is what the CLI prints as MLS_INTERNAL.
    if (!(error instanceof MlserveError)) return `threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.stack ?? String(error)}`
    if (error.code !== 'MLS_CONFIG_INVALID') return `unexpected ${error.code}: ${error.message}`
    const unlocated = error.details.find((line) => !/^\S+:[1-9]\d*:[1-9]\d* {2}\S/.test(line))
    if (error.details.length === 0 || unlocated !== undefined) return `an error without a location: ${unlocated ?? '(no details)'}`
    return undefined
  }
}

describe('config fuzz: mutated files never crash the loader', () => {
  let total = 0
  sources.forEach((source, index) => {
    test(`${MUTANTS_PER_FILE} mutants of ${source.name}`, () => {
      const random = prng(0x9e3779b9 ^ (index * 7919))
      const failures: string[] = []
      let loaded = 0
      for (let i = 0; i < MUTANTS_PER_FILE; i++) {
        // Mutant i starts with operation i (every operation is used on every file), then adds random ones.
        let text: string
        if (i % 2 === 0) {
          let tree = mutateTree(random, parse(source.text), TREE_OPS[(i / 2) % TREE_OPS.length])
          for (let n = Math.floor(random() * 3); n > 0; n--) tree = mutateTree(random, tree)
          text = stringify(tree, {aliasDuplicateObjects: false})
        } else {
          text = mutateText(random, source.text, TEXT_OPS[((i - 1) / 2) % TEXT_OPS.length])
          for (let n = Math.floor(random() * 2); n > 0; n--) text = mutateText(random, text)
        }
        const problem = check(text, i % 4 < 2)
        if (problem === undefined) loaded++
        else failures.push(`mutant ${i}: ${problem}\n--- mutant text (first 600 characters) ---\n${text.slice(0, 600)}`)
      }
      total += MUTANTS_PER_FILE
      assert.deepEqual(failures, [], failures.slice(0, 3).join('\n\n'))
      assert.equal(loaded, MUTANTS_PER_FILE)
    })
  })

  test('a few hundred files were tried', () => {
    assert.ok(total >= 300, `only ${total} mutants ran`)
  })
})
