// Quick against exhaustive search, on a template and on the test predictors:
// the capacity each one's pick reaches, and the time each took.
// Goal: quick reaches ≥ 95% of the exhaustive best in a fraction of the time.
//
// Run: node --import tsx bench/tune-search.ts [--processes 1,2] [--threads 1,2,4,8] [--only numpy]
// (--only keeps the predictors whose name contains the text.)
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {cliPath} from '../test/helpers/cli.js'
import type {TuneResult} from '../src/tune/types.js'
import {machine} from './lib.js'

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name)
  return i === -1 ? fallback : process.argv[i + 1]
}
const processes = arg('--processes', '1,2')
const threads = arg('--threads', '1,2,4,8')

// The test predictors of test/integration/tune.test.ts, with their behaviour.
interface BenchPredictor {
  code?: string
  template?: string
  /** Extra predictor settings, indented under `predictor:`. */
  settings?: string
  slo: number
}
const predictors: Record<string, BenchPredictor> = {
  'python template': {template: 'python', slo: 100},
  'CPU-bound (pure Python, ~25 ms)': {
    slo: 500,
    code: 'class PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        total = 0\n        for i in range(370000):\n            total = (total + i * i) % 1000003\n        return {"total": total}\n',
  },
  'I/O-bound (sleeps 50 ms)': {
    slo: 500,
    code: 'import time\n\nclass PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        time.sleep(0.05)\n        return {}\n',
  },
  'GIL-releasing (numpy 800 × 800 product, one BLAS thread, ~23 ms)': {
    slo: 500,
    settings: '  interpreter: /usr/bin/python3\n  env:\n    OPENBLAS_NUM_THREADS: "1"\n',
    code: 'import numpy as np\n\nclass PythonPredictor:\n    def __init__(self, config):\n        self.a = np.random.default_rng(0).random((800, 800))\n\n    def predict(self, payload):\n        return {"sum": float((self.a @ self.a).sum())}\n',
  },
}

async function tune(dir: string, slo: number, search: 'quick' | 'exhaustive'): Promise<TuneResult> {
  const {stdout} = await execa(process.execPath, [cliPath, 'tune', dir, '--slo-p99', String(slo), '--peak-rps', '100', '--processes', processes, '--threads', threads, '--search', search, '--json'], {env: {NO_COLOR: '1'}})
  return JSON.parse(stdout) as TuneResult
}

console.log(`# tune: quick against exhaustive search (${machine()}; processes ${processes} × threads ${threads})`)
console.log('| predictor | search | candidates | time s | pick | pick capacity req/s | best measured req/s | quick best / exhaustive best | quick time / exhaustive time |')
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
const only = arg('--only', '').toLowerCase()
for (const [name, p] of Object.entries(predictors).filter(([n]) => n.toLowerCase().includes(only))) {
  const root = mkdtempSync(join(tmpdir(), 'mlserve-bench-tune-'))
  const dir = join(root, 'subject')
  try {
    if (p.template) {
      await execa(process.execPath, [cliPath, 'init', dir, '--template', p.template, '--name', 'subject'])
    } else {
      writeProject(dir, p.code!, p.settings ?? '')
    }
    const exhaustive = await tune(dir, p.slo, 'exhaustive')
    const quick = await tune(dir, p.slo, 'quick')
    const capacity = (r: TuneResult): number => r.recommendation?.capacity ?? 0
    const pick = (r: TuneResult): string => (r.recommendation ? `${r.recommendation.processes_per_replica} × ${r.recommendation.threads_per_process}` : 'none')
    const best = (r: TuneResult): number => Math.max(0, ...r.candidates.map((c) => (c.status === 'ok' ? c.capacity?.capacity ?? 0 : 0)))
    for (const [label, r] of [['exhaustive', exhaustive], ['quick', quick]] as const) {
      const ratios = label === 'quick' ? `${(best(quick) / best(exhaustive)).toFixed(2)} | ${(quick.durationS / exhaustive.durationS).toFixed(2)}` : '- | -'
      console.log(`| ${name} | ${label} | ${r.candidates.length} | ${Math.round(r.durationS)} | ${pick(r)} | ${Math.round(capacity(r))} | ${Math.round(best(r))} | ${ratios} |`)
    }
  } finally {
    rmSync(root, {recursive: true, force: true})
  }
}

function writeProject(dir: string, code: string, settings: string): void {
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'predictor.py'), code)
  writeFileSync(join(dir, 'mlserve.yaml'), `name: subject\npredictor:\n  type: python\n  path: predictor.py\n${settings}`)
}
