// `tune --verify`: the recommendation, run the way a user will run it. A copy
// of the config with the recommendation written in starts under `mlserve run`
// in a process of its own (its replica pinned to the CPUs it was measured on),
// and an open loop drives it at the recommended per-replica rate. What a user
// acts on is what this measures: the same gateway, admission and shedding at
// max_replica_concurrency, none of tune's measuring shortcuts.
import {copyFile, rm} from 'node:fs/promises'
import {basename, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa, type ResultPromise} from 'execa'
import {updateConfigFile, type ConfigEdit, type Project} from '../config/index.js'
import {runOpenLoop, type RequestSource} from '../loadtest/index.js'
import {formatCpuList, pinnedArgv} from '../runtime/index.js'
import {MAX_FAILED_SHARE} from './capacity.js'
import {generatorHealth} from './generator.js'
import {recommendationWrites} from './write.js'
import type {Recommendation, Verification} from './types.js'

export interface VerifyOptions {
  project: Project
  api: string
  rec: Recommendation
  /** The rate to drive one replica at. */
  rate: number
  sloP99Ms: number
  durationMs: number
  settleMs: number
  request: RequestSource
  replicaCpus: number[] | null
  /** Every CPU tune may use: the replica's and the generator's. */
  allCpus: number[]
  readinessTimeoutMs: number
  signal?: AbortSignal
  log: (line: string) => void
}

const binRun = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

/**
 * The config edits that make one replica of the recommendation: what --write
 * writes for the predictor and the replica's admission, without the sizing of
 * the deployment (replicas, compute), which one replica does not need.
 */
export function verificationEdits(project: Project, api: string, rec: Recommendation): ConfigEdit[] {
  return recommendationWrites(project, api, rec, {initReplicas: false})
    .filter((w) => w.path.startsWith('predictor.') || w.path === 'autoscaling.max_replica_concurrency' || w.path === 'autoscaling.target_replica_concurrency')
    .map((w) => ({api, path: w.path.split('.'), value: w.value}))
}

export async function verifyRecommendation(options: VerifyOptions): Promise<Verification> {
  const {project, api, rec} = options
  // Beside the original, so that relative paths (predictor, payloads) resolve the same.
  const file = join(project.dir, `.${basename(project.file)}.tune-verify-${process.pid}.yaml`)
  let child: ResultPromise | null = null
  try {
    await copyFile(project.file, file)
    await updateConfigFile(file, verificationEdits(project, api, rec))
    const args = [binRun, 'run', file, '--api', api, '--replicas', '1', '--port', '0', '--json', '--readiness-timeout', `${Math.ceil(options.readinessTimeoutMs / 1000)}s`]
    let argv = [process.execPath, ...args]
    if (options.replicaCpus) {
      args.push('--replica-cpus', formatCpuList(options.replicaCpus))
      // This process is pinned to the generator's CPUs, and a child inherits that: give `mlserve run` back every CPU
      // the machine lent tune, so that it can put its replica on the replica's.
      argv = pinnedArgv([process.execPath, ...args], options.allCpus) ?? [process.execPath, ...args]
    }
    child = execa(argv[0], argv.slice(1), {env: {NO_COLOR: '1'}, reject: false, cleanup: true, stdin: 'ignore', buffer: false})
    const url = await readyUrl(child, api, options.log)
    const run = await runOpenLoop({
      url,
      rate: options.rate,
      arrival: 'poisson',
      durationMs: options.durationMs,
      warmupMs: options.settleMs,
      request: options.request,
      maxConnections: 4096,
      signal: options.signal,
    })
    const total = Math.max(1, run.requests.total)
    const shedShare = run.requests.shed / total
    const errorShare = (run.requests.failed - run.requests.shed) / total
    const failures: string[] = []
    if (run.latencyMs.p99 > options.sloP99Ms) failures.push(`p99 ${run.latencyMs.p99.toFixed(1)} ms is above the SLO of ${options.sloP99Ms} ms`)
    if (run.errorRate >= MAX_FAILED_SHARE) failures.push(`${(run.errorRate * 100).toFixed(2)}% of requests were shed or failed (the limit is ${MAX_FAILED_SHARE * 100}%)`)
    const generator = generatorHealth(run, options.sloP99Ms)
    if (generator.saturated) failures.push(`the load generator could not keep up (${run.generator.warnings.join('; ') || 'saturated'}), so the run does not show the replica`)
    if (run.requests.total === 0) failures.push('no request was measured')
    if (run.aborted) failures.push('stopped early')
    return {
      rate: options.rate,
      durationS: run.durationS,
      passed: failures.length === 0,
      p99Ms: run.latencyMs.p99,
      meanMs: run.latencyMs.mean,
      throughput: run.throughput,
      shedShare,
      errorShare,
      requests: run.requests.total,
      generatorSaturated: generator.saturated,
      failures,
    }
  } finally {
    if (child) {
      // SIGINT is `mlserve run`'s clean stop: it drains and stops its replica; SIGKILL follows if it hangs.
      child.kill('SIGINT')
      const hung = setTimeout(() => child?.kill('SIGKILL'), 15_000)
      await child
      clearTimeout(hung)
    }
    await rm(file, {force: true})
  }
}

/** Waits for `mlserve run --json`'s ready line; fails with its stderr if it exits first. */
async function readyUrl(child: ResultPromise, api: string, log: (line: string) => void): Promise<string> {
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000)
  })
  return new Promise<string>((resolve, reject) => {
    let buffered = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try {
          const event = JSON.parse(line) as {event?: string; apis?: Array<{name: string; url: string}>; error?: {message?: string}}
          const found = event.event === 'ready' ? event.apis?.find((a) => a.name === api) : undefined
          if (found) resolve(found.url)
          // Under --json a failure is a JSON line on stdout.
          if (event.error?.message) stderr += `\n${event.error.message}`
        } catch {
          stderr += `\n${line}`
        }
      }
    })
    void child.then((result) => {
      log(stderr.trim())
      reject(new Error(`mlserve run exited (code ${result.exitCode ?? result.signal}) before it was ready: ${stderr.trim().split('\n').slice(-3).join(' ')}`))
    })
  })
}
