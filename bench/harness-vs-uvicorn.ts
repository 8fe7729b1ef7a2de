// The Python harness against uvicorn + FastAPI (Debian's packages), serving
// the same no-op predictor with the same number of processes, loaded by wrk.
// FastAPI gets both endpoint styles: `async def` (its fastest) and `def` (its
// thread pool, what a blocking predictor needs).
//
// Run: node --import tsx bench/harness-vs-uvicorn.ts [--duration 10] [--processes 1]
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {harnessPath} from '../src/runtime/harness/index.js'
import {freeLoopbackPort, machine, ratio, waitForPort, wrk, type WrkResult} from './lib.js'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const durationS = arg('--duration', 10)
const processes = arg('--processes', 1)
const CONNECTIONS = 16
const DEBIAN_PYTHON = '/usr/bin/python3'

const predictor = `class PythonPredictor:
    def __init__(self, config):
        pass

    def predict(self, payload):
        return {"ok": True}
`
const app = (style: 'async' | 'sync'): string => `from fastapi import FastAPI, Request
from predictor import PythonPredictor

app = FastAPI()
model = PythonPredictor({})

@app.post("/predict")
${style === 'async' ? 'async def' : 'def'} predict(payload: dict):
    return model.predict(payload)
`

const dir = mkdtempSync(join(tmpdir(), 'mlserve-bench-py-'))
writeFileSync(join(dir, 'predictor.py'), predictor)
writeFileSync(join(dir, 'app_async.py'), app('async'))
writeFileSync(join(dir, 'app_sync.py'), app('sync'))

async function serve(name: string, argv: string[], env: Record<string, string> = {}): Promise<{name: string; url: string; child: ResultPromise}> {
  const port = await freeLoopbackPort()
  const child = execa(argv[0], argv.slice(1).map((a) => a.replace('$PORT', String(port))), {cwd: dir, env, reject: false, stdio: 'ignore'})
  await waitForPort(port, 30_000)
  return {name, url: `http://127.0.0.1:${port}/predict`, child}
}

const servers = [
  () => serve(`mlserve harness (${processes} process × ${CONNECTIONS} threads)`, [DEBIAN_PYTHON, harnessPath, 'serve', '--port', '$PORT', '--processes', String(processes), '--threads', String(CONNECTIONS), '--project-dir', dir, '--no-stdin-watch']),
  () => serve(`uvicorn + FastAPI, async def (${processes} worker)`, [DEBIAN_PYTHON, '-m', 'uvicorn', 'app_async:app', '--port', '$PORT', '--workers', String(processes), '--no-access-log', '--log-level', 'warning']),
  () => serve(`uvicorn + FastAPI, def (${processes} worker)`, [DEBIAN_PYTHON, '-m', 'uvicorn', 'app_sync:app', '--port', '$PORT', '--workers', String(processes), '--no-access-log', '--log-level', 'warning']),
]

const results: Array<{name: string; result: WrkResult}> = []
try {
  for (const start of servers) {
    const server = await start()
    try {
      await wrk(server.url, {connections: CONNECTIONS, durationS: 2})
      results.push({name: server.name, result: await wrk(server.url, {connections: CONNECTIONS, durationS})})
    } finally {
      server.child.kill('SIGTERM')
      await server.child
    }
  }
} finally {
  rmSync(dir, {recursive: true, force: true})
}

console.log(`# Python harness vs uvicorn + FastAPI (${machine()}, ${DEBIAN_PYTHON}, wrk -t1 -c${CONNECTIONS} -d${durationS}s, no-op predictor)`)
console.log('| server | req/s | p50 ms | p99 ms | errors |')
console.log('| --- | --- | --- | --- | --- |')
for (const {name, result} of results) {
  console.log(`| ${name} | ${Math.round(result.requestsPerSec)} | ${result.p50Ms.toFixed(2)} | ${result.p99Ms.toFixed(2)} | ${result.non2xx + result.errors} |`)
}
const [harness, uvAsync, uvSync] = results.map((r) => r.result.requestsPerSec)
console.log('')
console.log(`harness / uvicorn async def: ${ratio(harness, uvAsync)} (goal ≥ 1×); harness / uvicorn def: ${ratio(harness, uvSync)}`)
