// The batch endpoint on the sklearn template: N payloads answered by one
// POST /iris/batch against the same N payloads as N single POSTs, side by side
// in one run of one `mlserve run`.
//
// The project is the sklearn template as `mlserve init` writes it (iris,
// LogisticRegression, trained at init; predictor.py defines predict_batch),
// with processes_per_replica 1 (the replica gets one core) and
// max_replica_concurrency 64 (so concurrent singles queue rather than being
// shed). A second API, iris-each, serves a copy of predictor.py without
// predict_batch, so its batches run one by one on the replica: what the
// endpoint gains without a vectorised predictor (one request, duplicates
// dropped).
//
// A trial answers N = --items payloads (default 100), 20% of them duplicates:
// 80 distinct bodies {"instances": [[four features]]}, fresh in every trial
// (no cache is configured either way), and 20 repeats of some of them, in a
// shuffled order. Each trial is sent as:
//   singles-1:   N POSTs to /iris, one at a time (one keep-alive connection);
//   singles-8:   N POSTs to /iris, 8 in flight (8 keep-alive connections);
//   batch:       one POST /iris/batch with the N payloads;
//   batch-each:  one POST /iris-each/batch (predict one by one on the replica).
// The modes run in interleaved rounds (each round starts one mode further
// on), --trials trials per mode per round; a mode's figure is the median
// trial time over every round, and the speedup is singles over batch. Every
// batch answer is checked against the single answers of its trial.
//
// Cores (the machine has 2, shared with other work): this process (the
// client) on core 0; `mlserve run` (the gateway) and both replicas' processes
// on core 1.
//
// Run: node --import tsx bench/batch.ts [--items 100] [--trials 20] [--rounds 3] [--cli PATH]
// (30–90 s on the shared 2-core machine, by its load).
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Pool} from 'undici'
import {initProject} from '../src/scaffold/index.js'
import {cliPath} from '../test/helpers/cli.js'
import {flag, machine, pinGroupToCore, pinToCore, serveProject} from './lib.js'

const ITEMS = Number(flag('--items')) || 100
const TRIALS = Number(flag('--trials')) || 20
const ROUNDS = Number(flag('--rounds')) || 3
const cli = flag('--cli') ?? cliPath
const DUPLICATE_SHARE = 0.2
const CLIENT_CORE = 0
const SERVING_CORE = 1

type Mode = 'singles-1' | 'singles-8' | 'batch' | 'batch-each'
const MODES: Mode[] = ['singles-1', 'singles-8', 'batch', 'batch-each']

async function project(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-batch-'))
  const init = await initProject({dir, template: 'sklearn', name: 'iris'})
  if (!init.trained) throw new Error(`the sklearn template did not train (${init.warnings.join('; ')}); this benchmark needs a python3 with scikit-learn`)
  const file = join(dir, 'mlserve.yaml')
  const yaml = readFileSync(file, 'utf8')
    .replace(/^ {2}processes_per_replica: \d+$/m, '  processes_per_replica: 1')
    .replace(/^ {2}max_replica_concurrency: \d+$/m, '  max_replica_concurrency: 64')
  if (!yaml.includes('processes_per_replica: 1') || !yaml.includes('max_replica_concurrency: 64') || !/^name: iris$/m.test(yaml)) {
    throw new Error('the template mlserve.yaml changed shape; update bench/batch.ts')
  }
  // Two APIs in one file: the template's, and one whose predictor has no predict_batch.
  const api = yaml.replace(/^# yaml-language-server.*\n/m, '')
  const asList = (text: string): string => text.replace(/^(?=.)/gm, '  ').replace(/^ {2}name:/m, '- name:')
  const each = api.replace(/^name: iris$/m, 'name: iris-each').replace(/^ {2}path: predictor\.py$/m, '  path: predictor_each.py').replace(/^ {2}endpoint: \/iris$/m, '  endpoint: /iris-each')
  writeFileSync(file, `${asList(api)}\n${asList(each)}`)
  const predictor = readFileSync(join(dir, 'predictor.py'), 'utf8')
  const withoutBatch = predictor.replace(/\n {4}def predict_batch\(self, payloads\):[\s\S]*?(?=\n {4}def )/, '\n')
  if (withoutBatch === predictor || withoutBatch.includes('def predict_batch')) throw new Error('the template predictor changed shape; update bench/batch.ts')
  writeFileSync(join(dir, 'predictor_each.py'), withoutBatch)
  return dir
}

/** One trial's payloads: 80% distinct, fresh each trial; 20% repeats of them; shuffled (a fixed LCG, so runs compare). */
function trialPayloads(trial: number): string[] {
  let seed = 1 + (trial + 2) * 7919
  const random = (): number => ((seed = (seed * 48271) % 2147483647) / 2147483647)
  const uniques = Math.round(ITEMS * (1 - DUPLICATE_SHARE))
  const bodies: string[] = []
  for (let i = 0; i < uniques; i++) {
    const features = [4.3 + random() * 3.6, 2 + random() * 2.4, 1 + random() * 5.9, 0.1 + random() * 2.4].map((v) => Number(v.toFixed(3)))
    bodies.push(JSON.stringify({instances: [features]}))
  }
  for (let i = uniques; i < ITEMS; i++) bodies.push(bodies[Math.floor(random() * uniques)])
  for (let i = bodies.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[bodies[i], bodies[j]] = [bodies[j], bodies[i]]
  }
  return bodies
}

const JSON_HEADERS = {'content-type': 'application/json'}

async function singles(pool: Pool, bodies: string[], inFlight: number): Promise<string[]> {
  const answers = new Array<string>(bodies.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const i = next++
      const response = await pool.request({path: '/iris', method: 'POST', headers: JSON_HEADERS, body: bodies[i]})
      const text = await response.body.text()
      if (response.statusCode !== 200) throw new Error(`single call answered ${response.statusCode}: ${text}`)
      answers[i] = text
    }
  }
  await Promise.all(Array.from({length: inFlight}, worker))
  return answers
}

async function batch(pool: Pool, path: string, bodies: string[]): Promise<string[]> {
  const response = await pool.request({path, method: 'POST', headers: JSON_HEADERS, body: `[${bodies.join(',')}]`})
  const text = await response.body.text()
  if (response.statusCode !== 200) throw new Error(`batch answered ${response.statusCode}: ${text}`)
  const items = JSON.parse(text) as Array<{status: number; body: unknown}>
  if (items.length !== bodies.length || items.some((item) => item.status !== 200)) throw new Error(`batch answer has failed or missing items: ${text.slice(0, 300)}`)
  return items.map((item) => JSON.stringify(item.body))
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main(): Promise<void> {
  await pinToCore(process.pid, CLIENT_CORE)
  const dir = await project()
  const served = await serveProject<{apis: Array<{name: string; replicas: Array<{pid: number}>}>}>(cli, dir)
  const pool = new Pool(served.url, {connections: 8, pipelining: 1})
  const times: Record<Mode, number[]> = {'singles-1': [], 'singles-8': [], batch: [], 'batch-each': []}
  const loadBefore = loadavg()[0]
  try {
    await pinToCore(served.pid, SERVING_CORE)
    for (const api of served.status.apis) for (const replica of api.replicas) await pinGroupToCore(replica.pid, SERVING_CORE)
    // Warm-up (JIT, connections, the replicas' first calls), and the answers checked once against each other.
    const warm = trialPayloads(-1)
    const expected = await singles(pool, warm, 8)
    for (const path of ['/iris/batch', '/iris-each/batch']) {
      const got = await batch(pool, path, warm)
      const wrong = got.findIndex((answer, i) => JSON.stringify(JSON.parse(answer)) !== JSON.stringify(JSON.parse(expected[i])))
      if (wrong !== -1) throw new Error(`${path} item ${wrong} answered ${got[wrong]}, a single call ${expected[wrong]}`)
    }
    let trial = 0
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < MODES.length; k++) {
        const mode = MODES[(round + k) % MODES.length]
        for (let t = 0; t < TRIALS; t++) {
          const bodies = trialPayloads(trial++)
          const started = performance.now()
          if (mode === 'singles-1') await singles(pool, bodies, 1)
          else if (mode === 'singles-8') await singles(pool, bodies, 8)
          else await batch(pool, mode === 'batch' ? '/iris/batch' : '/iris-each/batch', bodies)
          times[mode].push(performance.now() - started)
        }
      }
    }
  } finally {
    await pool.close()
    await served.stop()
  }
  const uniques = Math.round(ITEMS * (1 - DUPLICATE_SHARE))
  console.log(`batch endpoint, sklearn template: ${ITEMS} payloads (${uniques} distinct, ${ITEMS - uniques} duplicates) per trial; ${TRIALS} trials × ${ROUNDS} rounds per mode, interleaved`)
  console.log(`${machine()}; client on core ${CLIENT_CORE}, gateway and replicas (1 process × 1 thread each) on core ${SERVING_CORE}; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after`)
  const base = median(times['singles-8'])
  console.log('')
  console.log('| mode | median ms per trial | p90 ms | payloads/s | vs singles, 8 in flight |')
  console.log('| --- | ---: | ---: | ---: | ---: |')
  for (const mode of MODES) {
    const sorted = [...times[mode]].sort((x, y) => x - y)
    const m = median(sorted)
    const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]
    console.log(`| ${mode} | ${m.toFixed(1)} | ${p90.toFixed(1)} | ${Math.round((ITEMS / m) * 1000)} | ${(base / m).toFixed(2)}× |`)
  }
  console.log('')
  console.log(`speedup of /iris/batch: ${(median(times['singles-1']) / median(times.batch)).toFixed(1)}× over sequential singles, ${(base / median(times.batch)).toFixed(1)}× over 8 in flight`)
}

await main()
