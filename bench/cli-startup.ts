// How fast the CLI starts, beside its floor, in one run.
//
// Each case is a fresh `node` process, timed from spawn to exit, N times in
// turn (round robin, so a slow moment of the machine hits every case alike);
// the median of each is printed, and each mlserve case minus the oclif floor
// (`node -e "import('@oclif/core')"`): what mlserve itself adds to the
// framework it is built on. The goals (issue 9): --version within 0.15 s of
// that floor, status and predict within 0.3 s.
//
// `status` and `predict` talk to a tiny gateway stand-in in this process (GET
// /status and POST /echo, announced in a private state directory as `mlserve
// run` would), so they do their whole job: find the runtime, ask it, print.
// `run → first 200` starts `mlserve run` on a project of the python template
// (made with `mlserve init` at the start) and times spawn to the first 200
// answer to its sample payload; then it stops the runtime (goal: ≤ 2 s).
//
// It runs the built CLI (bin/run.js and dist/): build first (`npm run build`,
// which also writes oclif.manifest.json). --baseline DIR adds the same mlserve
// cases run from another built checkout (an older commit, say: `git archive
// COMMIT | tar -x -C DIR`, a node_modules link, `npx tsc -p
// tsconfig.build.json` there), interleaved with these, so before and after are
// measured in one run under the same load.
//
// Run: node --import tsx bench/cli-startup.ts [--runs 15] [--baseline DIR]
import {spawn} from 'node:child_process'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {machine} from './lib.js'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) || fallback : fallback
}
const runs = arg('--runs', 15)
const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'bin', 'run.js')
const baselineAt = process.argv.indexOf('--baseline')
const baseline = baselineAt >= 0 ? process.argv[baselineAt + 1] : undefined

interface Case {
  name: string
  args: string[]
  /** The exit status the case must end with; anything else means the measurement is wrong. */
  exit: number
  /** What its time is compared with. */
  goalS?: number
  /** For `run`: time to the first 200 of this API with this body, not to exit. */
  serve?: {api: string; body: string}
  /** An absolute goal (seconds), not one over the floor. */
  absolute?: boolean
}

/** Spawns `mlserve run …`, posts `body` to the API until it answers 200, stops it; seconds from spawn to that 200. */
function timeToFirst200(args: string[], env: NodeJS.ProcessEnv, serve: {api: string; body: string}): Promise<{seconds: number; code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, args, {cwd: root, env, stdio: ['ignore', 'ignore', 'pipe']})
    let output = ''
    let seconds = NaN
    let polling = false
    child.stderr.on('data', async (chunk: Buffer) => {
      output += chunk.toString()
      const ready = /^Ready: (\S+)$/m.exec(output)
      if (!ready || polling) return
      polling = true
      while (child.exitCode === null) {
        const status = await fetch(`${ready[1]}/${serve.api}`, {method: 'POST', body: serve.body, headers: {'content-type': 'application/json'}}).then(
          async (r) => (await r.arrayBuffer(), r.status),
          () => 0,
        )
        if (status === 200) break
        await new Promise((r) => setTimeout(r, 10))
      }
      seconds = Number(process.hrtime.bigint() - started) / 1e9
      child.kill('SIGTERM')
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({seconds, code: Number.isNaN(seconds) ? code : 0, output}))
  })
}

function timeOnce(args: string[], env: NodeJS.ProcessEnv): Promise<{seconds: number; code: number | null; output: string}> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, args, {cwd: root, env, stdio: ['ignore', 'pipe', 'pipe']})
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({seconds: Number(process.hrtime.bigint() - started) / 1e9, code, output}))
  })
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main(): Promise<void> {
  if (!existsSync(join(root, 'dist', 'commands'))) throw new Error('no dist/: run `npm run build` first')
  const manifest = existsSync(join(root, 'oclif.manifest.json'))

  // The gateway stand-in: what `mlserve status` and `mlserve predict` ask.
  const server = createServer((req, res) => {
    const port = (server.address() as AddressInfo).port
    if (req.method === 'GET' && req.url === '/status') {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({url: `http://127.0.0.1:${port}`, pid: process.pid, project: 'bench', apis: [{name: 'echo', endpoint: '/echo', replicas: []}]}))
      return
    }
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end('{"ok": true}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-bench-state-'))
  writeFileSync(
    join(stateDir, `runtime-${process.pid}-${new URL(url).port}.json`),
    JSON.stringify({pid: process.pid, url, project: 'bench', startedAt: new Date().toISOString(), apis: [{name: 'echo', endpoint: '/echo'}]}),
  )
  const env = {...process.env, NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}

  // The project `run` serves: the python template (standard library only), as `mlserve init` makes it.
  const projectDir = join(stateDir, 'startup')
  const init = await timeOnce([bin, 'init', projectDir, '--json'], env)
  if (init.code !== 0) throw new Error(`mlserve init failed:\n${init.output}`)
  const serve = {api: 'startup', body: readFileSync(join(projectDir, 'payloads', 'sample.json'), 'utf8')}

  const mlserve = (label: string, cli: string): Case[] => [
    {name: `${label}--version`, args: [cli, '--version'], exit: 0, goalS: 0.15},
    {name: `${label}status`, args: [cli, 'status'], exit: 0, goalS: 0.3},
    {name: `${label}predict`, args: [cli, 'predict', '--data', '{"x": 1}'], exit: 0, goalS: 0.3},
    {name: `${label}run --help`, args: [cli, 'run', '--help'], exit: 0},
    {name: `${label}run → first 200`, args: [cli, 'run', projectDir, '--port', '0'], exit: 0, serve, goalS: 2, absolute: true},
  ]
  const cases: Case[] = [
    {name: 'node -e 1', args: ['-e', '1'], exit: 0},
    {name: "node -e \"import('@oclif/core')\"", args: ['-e', "import('@oclif/core')"], exit: 0},
    ...mlserve('mlserve ', bin),
    ...(baseline ? mlserve('baseline mlserve ', join(baseline, 'bin', 'run.js')) : []),
  ]
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]))
  try {
    for (let round = 0; round < runs + 1; round++) {
      for (const c of cases) {
        const {seconds, code, output} = c.serve ? await timeToFirst200(c.args, env, c.serve) : await timeOnce(c.args, env)
        if (code !== c.exit) throw new Error(`${c.name} exited ${code}, expected ${c.exit}:\n${output}`)
        if (round > 0) times.get(c.name)!.push(seconds) // round 0 warms the file cache
      }
    }
  } finally {
    server.close()
    rmSync(stateDir, {recursive: true, force: true})
  }

  const floor = median(times.get(cases[1].name)!)
  console.log(`CLI start-up, median of ${runs} runs each (${machine()}; oclif.manifest.json ${manifest ? 'present' : 'absent'})`)
  if (baseline) console.log(`baseline: ${baseline} (oclif.manifest.json ${existsSync(join(baseline, 'oclif.manifest.json')) ? 'present' : 'absent'})`)
  console.log(`${'case'.padEnd(36)} ${'median s'.padStart(9)} ${'− oclif floor'.padStart(14)}  goal`)
  for (const c of cases) {
    const m = median(times.get(c.name)!)
    const over = c.args[0].endsWith('run.js') && !c.absolute ? `${m - floor >= 0 ? '+' : ''}${(m - floor).toFixed(3)}` : ''
    const goal =
      c.goalS === undefined
        ? ''
        : c.absolute
          ? `≤ ${c.goalS.toFixed(2)} s ${m <= c.goalS ? 'met' : 'MISSED'}`
          : `≤ +${c.goalS.toFixed(2)} ${m - floor <= c.goalS ? 'met' : 'MISSED'}`
    console.log(`${c.name.padEnd(36)} ${m.toFixed(3).padStart(9)} ${over.padStart(14)}  ${goal}`)
  }
}

await main()
