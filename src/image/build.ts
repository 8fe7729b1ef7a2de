// The build itself: the context tar goes to the Docker engine through
// dockerode, progress comes back step by step, the image is tagged
// NAME:VERSION (VERSION from git, or from the context's digest) once a
// short-lived container shows that it can run the harness (check.ts), and then
// inspected like `mlserve inspect` does.
import {createHash} from 'node:crypto'
import {StringDecoder} from 'node:string_decoder'
import {Transform, type Readable} from 'node:stream'
import type Docker from 'dockerode'
import {execa} from 'execa'
import {connectDocker, LABELS} from '../docker/index.js'
import {mlserveError} from '../errors.js'
import {checkImage} from './check.js'
import {packContext} from './context.js'
import {installedPins, unpinnedPackages} from './pins.js'
import {DEFAULT_CI_THRESHOLDS, type CiThresholds} from './efficiency.js'
import {inspectImage, type InspectReport, type LayerReport} from './inspect.js'
import type {LintFinding} from './lint.js'
import {planBuild, type BuildPlan, type PlanOptions} from './build-plan.js'

export type BuildEvent =
  | {type: 'context'; files: number; bytes: number}
  | {type: 'step'; index: number; total: number; instruction: string}
  | {type: 'cached'; index: number}
  | {type: 'output'; index: number; line: string}
  | {type: 'built'; id: string}
  | {type: 'checking'}
  /** What the image check found the image can do; null when nothing needed checking. */
  | {type: 'checked'; what: string | null}
  | {type: 'tagged'; tag: string}
  | {type: 'inspecting'}

export interface BuildOptions {
  /** NAME[:VERSION]; default: the API name, and the version from git. */
  tag?: string
  noCache?: boolean
  /** Evaluate lint findings and image thresholds as CI checks (fail on any). */
  ci?: boolean
  thresholds?: CiThresholds
  onEvent?: (event: BuildEvent) => void
  /** A client to use (tests); by default one for $DOCKER_HOST, checked with a ping. */
  docker?: Docker
}

export interface BuildStep {
  index: number
  instruction: string
  cached: boolean
  durationMs: number
}

export interface CiFailure {
  /** A lint rule ID, or a threshold rule (lowestEfficiency…). */
  rule: string
  message: string
}

export interface BuildResult {
  api: string
  /** The image ID (sha256:…). */
  image: string
  /** NAME:VERSION */
  tag: string
  version: string
  /** 'generated', or the path of the user's Dockerfile. */
  dockerfileSource: string
  dockerfile: string
  context: {files: number; bytes: number; digest: string}
  steps: BuildStep[]
  layers: LayerReport[]
  inspect: InspectReport
  lint: LintFinding[]
  notes: string[]
  /** What the image check verified before tagging; null when nothing needed checking (a command-kind image of your own Dockerfile). */
  check: string | null
  /** The unpinned build.system_packages as this build installed them (`name=version`), to pin in mlserve.yaml for DL3008; empty when all are pinned. */
  pins: string[]
  durationMs: number
  ci?: {pass: boolean; failures: CiFailure[]}
}

/**
 * Plans and runs a build. Throws MlserveError: refusals before the build,
 * MLS_BUILD_FAILED, MLS_IMAGE_PYTHON_INCOMPLETE or MLS_IMAGE_CHECK_FAILED
 * (built, not tagged), MLS_CI_CHECKS_FAILED (after tagging).
 */
export async function buildImage(options: PlanOptions & BuildOptions): Promise<BuildResult> {
  const plan = await planBuild(options)
  return runBuild(plan, options)
}

export async function runBuild(plan: BuildPlan, options: BuildOptions): Promise<BuildResult> {
  const started = Date.now()
  const emit = options.onEvent ?? (() => {})
  const target = parseTag(options.tag, plan.api.name)
  const docker = options.docker ?? (await connectDocker())
  const git = await gitVersion(plan.project.dir)

  emit({type: 'context', files: plan.files.length, bytes: plan.contextBytes})
  const hash = createHash('sha256')
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  const context = packContext(plan.entries)
  context.on('error', (error) => hashing.destroy(error))
  context.pipe(hashing)

  const labels: Record<string, string> = {}
  // Build-time labels are applied by a last step of their own, so they never invalidate the cache.
  if (git?.revision) labels[LABELS.revision] = git.revision
  const knownVersion = target.version ?? git?.version
  if (knownVersion) labels[LABELS.version] = knownVersion

  let response: Readable
  try {
    response = (await docker.buildImage(hashing, {
      dockerfile: plan.dockerfilePath,
      nocache: options.noCache ?? false,
      rm: true,
      forcerm: true,
      labels,
    })) as Readable
  } catch (error) {
    throw mlserveError('MLS_BUILD_FAILED', {step: 'the upload of the build context', reason: (error as Error).message}, {cause: error})
  }
  const {id, steps} = await followBuild(response, emit)
  const digest = hash.digest('hex')
  emit({type: 'built', id})

  const version = target.version ?? git?.version ?? `ctx-${digest.slice(0, 12)}`
  const tag = `${target.repo}:${version}`
  // Before the tag: `run --driver docker` runs an API's newest tag, which must never be an image that cannot serve.
  emit({type: 'checking'})
  const check = await checkImage(docker, {
    image: id,
    name: `${tag} (${id.replace(/^sha256:/, '').slice(0, 12)}, left untagged)`,
    predictorType: plan.api.predictor.type === 'command' ? 'command' : 'python',
    dockerfile: plan.dockerfile,
    generated: plan.dockerfileSource === 'generated',
  })
  emit({type: 'checked', what: check.checked})
  const unpinned = plan.dockerfileSource === 'generated' ? unpinnedPackages(plan.api.build.system_packages) : []
  const pins = await installedPins(docker, id, unpinned)
  await docker.getImage(id).tag({repo: target.repo, tag: version})
  emit({type: 'tagged', tag})

  emit({type: 'inspecting'})
  const thresholds = options.ci ? (options.thresholds ?? {...DEFAULT_CI_THRESHOLDS}) : options.thresholds
  const inspect = await inspectImage(docker, tag, thresholds)

  const result: BuildResult = {
    api: plan.api.name,
    image: id,
    tag,
    version,
    dockerfileSource: plan.dockerfileSource,
    dockerfile: plan.dockerfile,
    context: {files: plan.files.length, bytes: plan.contextBytes, digest: `sha256:${digest}`},
    steps,
    layers: inspect.layers,
    inspect,
    lint: plan.lint,
    notes: plan.notes,
    check: check.checked,
    pins,
    durationMs: Date.now() - started,
  }
  if (options.ci) {
    const failures: CiFailure[] = [
      ...plan.lint.map((f) => ({
        rule: f.rule,
        message: `${plan.dockerfileSource === 'generated' ? 'Dockerfile' : plan.dockerfileSource}:${f.line} ${f.rule} ${f.message}${f.rule === 'DL3008' && pins.length > 0 ? ` This build installed ${pins.join(', ')}: pin ${pins.length === 1 ? 'it' : 'them'} in build.system_packages.` : ''}`,
      })),
      ...(inspect.ci?.rules ?? []).filter((r) => !r.pass).map((r) => ({rule: r.rule, message: r.message})),
    ]
    result.ci = {pass: failures.length === 0, failures}
  }
  return result
}

/** Throws MLS_CI_CHECKS_FAILED when a CI evaluation failed. */
export function assertCi(image: string, failures: readonly CiFailure[]): void {
  if (failures.length === 0) return
  throw mlserveError('MLS_CI_CHECKS_FAILED', {image, count: failures.length}, {details: failures.map((f) => f.message)})
}

interface BuildMessage {
  stream?: string
  error?: string
  errorDetail?: {message?: string; code?: number}
  aux?: {ID?: string}
  status?: string
}

/** Reads the engine's JSON-lines progress: steps, cache hits, output; MLS_BUILD_FAILED on an error. */
export async function followBuild(response: Readable, emit: (event: BuildEvent) => void): Promise<{id: string; steps: BuildStep[]}> {
  const decoder = new StringDecoder('utf8')
  let buffer = ''
  let text = ''
  const steps: BuildStep[] = []
  let current: BuildStep | null = null
  let stepStarted = Date.now()
  let stepOutput: string[] = []
  let id: string | null = null
  let failure: BuildMessage | null = null

  const closeStep = () => {
    if (current) current.durationMs = Date.now() - stepStarted
  }
  const onText = (chunk: string) => {
    text += chunk
    let nl: number
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).replace(/\r$/, '')
      text = text.slice(nl + 1)
      const step = /^Step (\d+)\/(\d+) : (.*)$/.exec(line)
      if (step) {
        closeStep()
        current = {index: Number(step[1]), instruction: step[3], cached: false, durationMs: 0}
        steps.push(current)
        stepStarted = Date.now()
        stepOutput = []
        emit({type: 'step', index: current.index, total: Number(step[2]), instruction: current.instruction})
      } else if (/^ ---> Using cache$/.test(line)) {
        if (current) {
          current.cached = true
          emit({type: 'cached', index: current.index})
        }
      } else if (/^ ---> (Running in |[0-9a-f]{12}$)/.test(line) || /^Removing intermediate container /.test(line) || /^Successfully (built|tagged) /.test(line) || line.trim() === '') {
        // The engine's bookkeeping.
      } else {
        stepOutput.push(line)
        if (stepOutput.length > 200) stepOutput.shift()
        emit({type: 'output', index: current?.index ?? 0, line})
      }
    }
  }

  for await (const chunk of response) {
    buffer += decoder.write(chunk as Buffer)
    let nl: number
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const raw = buffer.slice(0, nl).trim()
      buffer = buffer.slice(nl + 1)
      if (raw === '') continue
      let message: BuildMessage
      try {
        message = JSON.parse(raw) as BuildMessage
      } catch {
        onText(raw + '\n')
        continue
      }
      if (message.stream !== undefined) onText(message.stream)
      if (message.aux?.ID) id = message.aux.ID
      if (message.error !== undefined || message.errorDetail !== undefined) failure = message
    }
  }
  if (text !== '') onText('\n')
  closeStep()

  if (failure !== null) {
    const reason = (failure.errorDetail?.message ?? failure.error ?? 'unknown error').trim()
    const stepName: string = current === null ? 'the start of the build' : `step ${(current as BuildStep).index} (${(current as BuildStep).instruction})`
    const details = stepOutput.slice(-40).map((l) => `| ${l}`)
    throw mlserveError('MLS_BUILD_FAILED', {step: stepName, reason}, {details})
  }
  if (id === null) throw mlserveError('MLS_BUILD_FAILED', {step: 'the end of the build', reason: 'the engine reported no image ID'})
  return {id, steps}
}

export interface TagTarget {
  repo: string
  /** null: from git (or the context digest). */
  version: string | null
}

const REPO = /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/** `--tag` as repo and version: `NAME:VERSION`, or `NAME` (the version then comes from git). */
export function parseTag(value: string | undefined, api: string): TagTarget {
  if (value === undefined) return {repo: api, version: null}
  const slash = value.lastIndexOf('/')
  const colon = value.lastIndexOf(':')
  const [repo, version] = colon > slash ? [value.slice(0, colon), value.slice(colon + 1)] : [value, null]
  if (!REPO.test(repo) || (version !== null && !TAG.test(version))) {
    throw mlserveError('MLS_INVALID_FLAG', {
      flag: '--tag',
      value,
      expected: 'NAME[:VERSION], e.g. iris or registry.example.com/team/iris:1.2.0 (lowercase name; version of letters, digits, _ . -)',
    })
  }
  return {repo, version}
}

/** The version from `git describe --always --dirty` in the project, made a valid tag; null outside git. */
export async function gitVersion(dir: string): Promise<{version: string; revision: string | null} | null> {
  const describe = await execa('git', ['describe', '--always', '--dirty'], {cwd: dir, reject: false, timeout: 10_000})
  if (describe.exitCode !== 0 || !describe.stdout) return null
  const revision = await execa('git', ['rev-parse', 'HEAD'], {cwd: dir, reject: false, timeout: 10_000})
  const version = sanitizeTag(String(describe.stdout).trim())
  return version === null ? null : {version, revision: revision.exitCode === 0 ? String(revision.stdout).trim() : null}
}

export function sanitizeTag(text: string): string | null {
  const tag = text.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[.-]+/, '').slice(0, 128)
  return tag === '' ? null : tag
}

/** One line per finding, as hadolint prints them. */
export function formatFinding(file: string, finding: LintFinding): string {
  return `${file}:${finding.line} ${finding.rule} ${finding.severity}: ${finding.message}`
}

