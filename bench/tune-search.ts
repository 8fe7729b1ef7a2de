// Quick against exhaustive search: what each one's pick reaches, and what it
// costs in time.
//
// It runs `mlserve tune DIR --json --no-verify --search quick …`, then the same
// with `--search exhaustive`, through the built CLI (bin/run.js and dist/:
// build first with `npx tsc -p tsconfig.build.json`), and prints for each
// search: the pick, its capacity per replica, per-replica rate and replicas for
// the peak, its cost, the candidates measured and the wall time. Then it prints
// the ratios quick / exhaustive, for the pick's capacity and for the time,
// against the issue's bar: quick reaches ≥ 95% of the exhaustive pick's
// capacity in ≤ 30% of its time. Verification is off in both: it runs the
// pick, not the search, and would add the same minute to each.
//
// Without --dir it tunes a project it writes itself: the CPU-bound test
// predictor (about 4 ms of pure-Python arithmetic per request, holding the
// GIL) with compute.cpu 1, on tune's default grid. The arguments after `--`
// go to both tunes as they are; --slo-p99 100 and --peak-rps 500 are added
// where they are not given.
//
// Human output (progress and a Markdown table, the one docs/tune.md shows) goes
// to stderr; --json puts the figures on stdout.
//
// Run: node --import tsx bench/tune-search.ts [--dir DIR] [--label TEXT] [--json] [-- TUNE-ARGS…]
//  e.g. node --import tsx bench/tune-search.ts -- --processes 1,2,3 --threads 1,2,4,8
import {existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join, resolve} from 'node:path'
import {execa} from 'execa'
import {cliPath, repoRoot} from '../test/helpers/cli.js'
import {cpuBound, tuneConfig} from '../test/helpers/tune-predictors.js'
import type {TuneResult} from '../src/tune/types.js'
import {machine} from './lib.js'

/** The issue's bar: quick reaches this share of the exhaustive pick's capacity… */
const CAPACITY_BAR = 0.95
/** …in at most this share of its time. */
const TIME_BAR = 0.3

const DEFAULT_TUNE_ARGS: Array<[flag: string, value: string]> = [
  ['--slo-p99', '100'],
  ['--peak-rps', '500'],
]

interface BenchArgs {
  /** The project to tune; null: the CPU-bound one this script writes. */
  dir: string | null
  /** What the table calls the predictor. */
  label: string | null
  json: boolean
  /** Passed to both tunes as they are. */
  tuneArgs: string[]
}

/** The command line, apart from the run: our flags before `--`, tune's after it. */
function parseBenchArgs(argv: string[]): BenchArgs {
  const split = argv.indexOf('--')
  const own = split === -1 ? argv : argv.slice(0, split)
  const passed = split === -1 ? [] : argv.slice(split + 1)
  const value = (name: string): string | null => {
    const i = own.indexOf(name)
    if (i === -1) return null
    const v = own[i + 1]
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`)
    return v
  }
  const known = new Set(['--dir', '--label', '--json'])
  for (let i = 0; i < own.length; i++) {
    if (!own[i].startsWith('--')) continue
    if (!known.has(own[i])) throw new Error(`unknown option ${own[i]}: tune's own flags go after \`--\``)
    if (own[i] !== '--json') i++
  }
  const tuneArgs = [...passed]
  for (const [flag, fallback] of DEFAULT_TUNE_ARGS) {
    if (!tuneArgs.some((a) => a === flag || a.startsWith(`${flag}=`))) tuneArgs.push(flag, fallback)
  }
  return {dir: value('--dir'), label: value('--label'), json: own.includes('--json'), tuneArgs}
}

interface SearchFigures {
  search: 'quick' | 'exhaustive'
  /** "1 × 1" (with ", BLAS n" where swept), or "none" when no candidate met the SLO. */
  pick: string
  /** Capacity of one replica of the pick, req/s (projected where the machine was too small). */
  capacity: number | null
  projected: boolean
  perReplicaRate: number | null
  minReplicas: number | null
  /** Cost per hour of the replicas that serve the peak: dollars with --price-*, else Fargate weights. */
  costPerHour: number | null
  costUnit: '$/h' | 'weight/h'
  /** The highest capacity any candidate of this search reached, req/s. */
  bestCapacity: number
  candidates: number
  /** tune's own figure for its run, and this script's spawn-to-exit time. */
  tuneS: number
  wallS: number
}

/** One `mlserve tune --json --no-verify --search SEARCH` on the built CLI. */
async function tuneOnce(dir: string, search: 'quick' | 'exhaustive', tuneArgs: string[], stateDir: string): Promise<SearchFigures> {
  const args = [cliPath, 'tune', dir, '--json', '--no-verify', '--search', search, ...tuneArgs]
  process.stderr.write(`$ mlserve ${args.slice(1).join(' ')}\n`)
  const started = process.hrtime.bigint()
  const run = await execa(process.execPath, args, {env: {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}, reject: false, stdin: 'ignore'})
  const wallS = Number(process.hrtime.bigint() - started) / 1e9
  if (run.exitCode !== 0) throw new Error(`tune --search ${search} exited ${run.exitCode}:\n${String(run.stdout)}\n${String(run.stderr)}`)
  const result = JSON.parse(String(run.stdout)) as TuneResult
  const rec = result.recommendation
  return {
    search,
    pick: rec ? `${rec.processes_per_replica} × ${rec.threads_per_process}${rec.blasThreads === null ? '' : `, BLAS ${rec.blasThreads}`}` : 'none',
    capacity: rec?.capacity ?? null,
    projected: rec?.projected ?? false,
    perReplicaRate: rec?.perReplicaRate ?? null,
    minReplicas: rec?.min_replicas ?? null,
    costPerHour: rec?.cost.perHour ?? null,
    costUnit: result.prices.source === 'flags' ? '$/h' : 'weight/h',
    bestCapacity: Math.max(0, ...result.candidates.map((c) => (c.status === 'ok' ? c.capacity?.capacity ?? 0 : 0))),
    candidates: result.candidates.length,
    tuneS: result.durationS,
    wallS,
  }
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b)
const fixed = (n: number | null, digits: number): string => (n === null ? '-' : n.toFixed(digits))

function writeCpuBoundProject(dir: string): void {
  mkdirSync(dir, {recursive: true})
  const predictor = cpuBound()
  writeFileSync(join(dir, 'predictor.py'), predictor.source)
  writeFileSync(join(dir, 'mlserve.yaml'), tuneConfig(predictor))
}

async function main(options: BenchArgs): Promise<void> {
  if (!existsSync(join(repoRoot, 'dist', 'commands'))) throw new Error('no dist/: build first (npx tsc -p tsconfig.build.json)')
  const scratch = mkdtempSync(join(tmpdir(), 'mlserve-bench-tune-'))
  try {
    const dir = options.dir === null ? join(scratch, 'subject') : resolve(options.dir)
    if (options.dir === null) writeCpuBoundProject(dir)
    const label = options.label ?? (options.dir === null ? 'CPU-bound, pure Python, ~4 ms, compute.cpu 1' : basename(dir))
    const stateDir = join(scratch, 'state')
    mkdirSync(stateDir)

    const quick = await tuneOnce(dir, 'quick', options.tuneArgs, stateDir)
    const exhaustive = await tuneOnce(dir, 'exhaustive', options.tuneArgs, stateDir)
    const capacityRatio = ratio(quick.capacity, exhaustive.capacity)
    const timeRatio = ratio(quick.wallS, exhaustive.wallS)
    const costRatio = ratio(quick.costPerHour, exhaustive.costPerHour)
    const met = capacityRatio !== null && timeRatio !== null && capacityRatio >= CAPACITY_BAR && timeRatio <= TIME_BAR

    const say = (line = ''): boolean => process.stderr.write(`${line}\n`)
    say()
    say(`# tune: quick against exhaustive search (${machine()}; tune ${options.tuneArgs.join(' ')})`)
    say('| predictor | search | candidates | time s | pick | capacity req/s | cost | quick / exhaustive capacity | quick / exhaustive time |')
    say('|---|---|---:|---:|---|---:|---:|---:|---:|')
    for (const f of [quick, exhaustive]) {
      const capacity = f.capacity === null ? '-' : `${Math.round(f.capacity)}${f.projected ? ' (projected)' : ''}`
      const cost = f.costPerHour === null ? '-' : `${f.costPerHour.toFixed(4)} ${f.costUnit} (${f.minReplicas} × ${Math.round(f.perReplicaRate ?? 0)} req/s)`
      const ratios = f.search === 'quick' ? `${fixed(capacityRatio, 2)} | ${fixed(timeRatio, 2)}` : '- | -'
      say(`| ${label} | ${f.search} | ${f.candidates} | ${Math.round(f.wallS)} | ${f.pick} | ${capacity} | ${cost} | ${ratios} |`)
    }
    say()
    say(`best capacity any candidate reached: quick ${Math.round(quick.bestCapacity)} req/s, exhaustive ${Math.round(exhaustive.bestCapacity)} req/s`)
    say(`quick / exhaustive: pick capacity ${fixed(capacityRatio, 2)} (bar ≥ ${CAPACITY_BAR}), time ${fixed(timeRatio, 2)} (bar ≤ ${TIME_BAR}), pick cost ${fixed(costRatio, 2)}: ${met ? 'meets the bar' : 'misses the bar'}`)

    if (options.json) {
      process.stdout.write(
        `${JSON.stringify(
          {machine: machine(), predictor: label, dir: options.dir, tuneArgs: options.tuneArgs, quick, exhaustive, ratios: {capacity: capacityRatio, time: timeRatio, cost: costRatio}, bar: {capacity: CAPACITY_BAR, time: TIME_BAR, met}},
          null,
          2,
        )}\n`,
      )
    }
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }
}

let options: BenchArgs
try {
  options = parseBenchArgs(process.argv.slice(2))
} catch (error) {
  process.stderr.write(`${(error as Error).message}\nRun: node --import tsx bench/tune-search.ts [--dir DIR] [--label TEXT] [--json] [-- TUNE-ARGS…]\n`)
  process.exit(2)
}
await main(options)
