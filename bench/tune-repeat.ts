// The same answer twice: runs `mlserve tune` N times on each test predictor
// (test/fixtures/tune/, with the settings the integration tests use) and
// prints one row per run, then whether every run made the same pick.
//
// Human output (a Markdown table, the one docs/tune.md shows) goes to stderr;
// --json puts the runs on stdout. Build first: npx tsc -p tsconfig.build.json.
//
// Run: node --import tsx bench/tune-repeat.ts [--runs 5] [--predictor cpu|io|numpy-pool|numpy-1]… [--json]
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {cliPath} from '../test/helpers/cli.js'
import {cpuBound, ioBound, numpyOneThread, numpyPool, tuneConfig, type TunePredictor} from '../test/helpers/tune-predictors.js'
import {candidateLabel, type TuneResult} from '../src/tune/types.js'
import {machine} from './lib.js'

interface Preset {
  label: string
  predictor: () => TunePredictor
  args: string[]
}

/**
 * The integration tests' windows and SLOs (test/integration/tune.test.ts), on
 * smaller grids, so that 5 runs of 4 predictors fit in under an hour on 2 cores.
 */
const WINDOW = ['--window', '2s', '--window-requests', '400', '--warmup', '1s', '--verify-duration', '10s']
const PRESETS: Record<string, Preset> = {
  cpu: {label: 'CPU-bound (pure Python, ~4 ms)', predictor: cpuBound, args: [...WINDOW, '--slo-p99', '100', '--peak-rps', '100', '--processes', '1,2', '--threads', '1']},
  io: {label: 'I/O-bound (50 ms sleep)', predictor: ioBound, args: ['--window', '2s', '--window-requests', '200', '--warmup', '1s', '--verify-duration', '10s', '--slo-p99', '500', '--peak-rps', '150', '--processes', '1', '--threads', '4,16']},
  'numpy-pool': {label: 'numpy, default BLAS pool', predictor: numpyPool, args: [...WINDOW, '--slo-p99', '200', '--peak-rps', '50', '--processes', '1', '--threads', '1', '--search', 'exhaustive']},
  'numpy-1': {label: 'numpy, OPENBLAS_NUM_THREADS=1', predictor: numpyOneThread, args: [...WINDOW, '--slo-p99', '200', '--peak-rps', '50', '--processes', '1', '--threads', '1,2']},
}

interface Options {
  runs: number
  presets: string[]
  json: boolean
}

function parseOptions(argv: string[]): Options {
  const options: Options = {runs: 5, presets: [], json: false}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') options.json = true
    else if (arg === '--runs') {
      options.runs = Number(argv[++i])
      if (!Number.isInteger(options.runs) || options.runs < 1) throw new Error(`--runs needs a whole number of 1 or more, got ${argv[i]}`)
    } else if (arg === '--predictor') {
      const name = argv[++i]
      if (!(name in PRESETS)) throw new Error(`--predictor must be one of ${Object.keys(PRESETS).join(', ')}, got ${name}`)
      options.presets.push(name)
    } else throw new Error(`unknown option ${arg}`)
  }
  if (options.presets.length === 0) options.presets = Object.keys(PRESETS)
  return options
}

interface Run {
  predictor: string
  run: number
  pick: string
  capacity: number | null
  perReplicaRate: number | null
  minReplicas: number | null
  verified: string
  candidates: number
  seconds: number
}

async function tuneOnce(preset: Preset, run: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-repeat-'))
  try {
    const predictor = preset.predictor()
    writeFileSync(join(dir, 'predictor.py'), predictor.source)
    writeFileSync(join(dir, 'mlserve.yaml'), tuneConfig(predictor))
    const t0 = process.hrtime.bigint()
    const result = await execa(process.execPath, [cliPath, 'tune', dir, '--json', ...preset.args], {env: {NO_COLOR: '1', MLSERVE_STATE_DIR: join(dir, '.state')}, reject: false, stdin: 'ignore'})
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    if (result.exitCode !== 0) throw new Error(`tune exited ${result.exitCode}: ${String(result.stderr).slice(-2000)}`)
    const tuned = JSON.parse(String(result.stdout)) as TuneResult
    const rec = tuned.recommendation ?? tuned.failedVerification
    const last = rec?.verifications.at(-1)
    return {
      predictor: preset.label,
      run,
      pick: tuned.recommendation ? candidateLabel(tuned.recommendation) : tuned.failedVerification ? `none (${candidateLabel(tuned.failedVerification)} failed verification)` : 'none',
      capacity: rec?.capacity ?? null,
      perReplicaRate: rec?.perReplicaRate ?? null,
      minReplicas: rec?.min_replicas ?? null,
      verified: last ? `${last.passed ? 'pass' : 'FAIL'} p99 ${last.p99Ms.toFixed(1)} ms, ${((last.shedShare + last.errorShare) * 100).toFixed(2)}% failed` : '-',
      candidates: tuned.candidates.length,
      seconds,
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

async function main(options: Options): Promise<void> {
  const say = (line = ''): boolean => process.stderr.write(`${line}\n`)
  const runs: Run[] = []
  say(`# tune, ${options.runs} runs per predictor (${machine()})`)
  say('| predictor | run | pick | capacity req/s | per-replica rate | min_replicas | verification | candidates | time s |')
  say('|---|---:|---|---:|---:|---:|---|---:|---:|')
  for (const name of options.presets) {
    const preset = PRESETS[name]
    for (let i = 1; i <= options.runs; i++) {
      const r = await tuneOnce(preset, i)
      runs.push(r)
      say(`| ${r.predictor} | ${r.run} | ${r.pick} | ${r.capacity === null ? '-' : Math.round(r.capacity)} | ${r.perReplicaRate === null ? '-' : Math.round(r.perReplicaRate)} | ${r.minReplicas ?? '-'} | ${r.verified} | ${r.candidates} | ${Math.round(r.seconds)} |`)
    }
  }
  say()
  for (const name of options.presets) {
    const picks = runs.filter((r) => r.predictor === PRESETS[name].label).map((r) => r.pick)
    const same = picks.filter((p) => p === picks[0]).length
    say(`${PRESETS[name].label}: ${same} of ${picks.length} runs picked ${picks[0]}${same === picks.length ? '' : ` (others: ${[...new Set(picks.filter((p) => p !== picks[0]))].join('; ')})`}`)
  }
  if (options.json) process.stdout.write(`${JSON.stringify({machine: machine(), runs}, null, 2)}\n`)
}

let options: Options
try {
  options = parseOptions(process.argv.slice(2))
} catch (error) {
  process.stderr.write(`${(error as Error).message}\nRun: node --import tsx bench/tune-repeat.ts [--runs 5] [--predictor cpu|io|numpy-pool|numpy-1]… [--json]\n`)
  process.exit(2)
}
await main(options)
