// `mlserve init` as a function: checks everything first (template, name,
// target directory, every file it would write), then finds an interpreter for
// templates that need Python packages, writes the files and runs the
// template's setup steps. A refusal leaves the directory as it was.
import {statSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {SCHEMA_URL} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {DEFAULT_INTERPRETER} from '../runtime/interpreter.js'
import {interpreterBlock, interpreterWarnings, probeInterpreter, type ProbeResult} from './python-probe.js'
import {resolveApiName} from './name.js'
import {DEFAULT_TEMPLATE, getTemplate, templateDir} from './registry.js'
import {findConflicts, listTemplateFiles, renderFiles, writeFiles, type Vars} from './render.js'
import {runSetupStep, type SetupOutcome} from './setup.js'

export {DEFAULT_TEMPLATE, TEMPLATES, getTemplate, templateNames, type TemplateSpec} from './registry.js'
export {resolveApiName} from './name.js'

export interface InitOptions {
  /** The project directory, as the user wrote it (created when missing). */
  dir: string
  template?: string
  /** The API name; default: the directory's basename. */
  name?: string
  /** Overwrite files that already exist. */
  force?: boolean
  /** Run setup steps such as train.py (default true). */
  setup?: boolean
  /** The environment for probing and setup (default process.env). */
  env?: NodeJS.ProcessEnv
  /** The JSON Schema URL for the editor header (default: the config module's SCHEMA_URL). */
  schemaUrl?: string
  /** Progress lines, for a terminal. */
  onProgress?: (line: string) => void
}

export interface InitResult {
  /** The project directory, absolute. */
  dir: string
  template: string
  name: string
  /** Every file init wrote (setup outputs included), relative to dir, sorted. */
  files: string[]
  /** The interpreter chosen for a template that needs Python packages; null when it needs none or none was found. */
  interpreter: string | null
  /** Whether the template's setup steps (the sklearn template's train.py) ran. */
  trained: boolean
  /** What the user should know: no interpreter found, setup skipped, MLSERVE_PYTHON overriding. */
  warnings: string[]
  /** Each setup step's output, for the terminal. */
  setup: SetupOutcome[]
}

export async function initProject(options: InitOptions): Promise<InitResult> {
  const env = options.env ?? process.env
  const progress = options.onProgress ?? (() => {})
  const spec = getTemplate(options.template ?? DEFAULT_TEMPLATE)
  const name = resolveApiName(options.dir, options.name)
  const dir = resolve(options.dir)

  // 1. Check everything before writing anything.
  assertDirectory(options.dir, dir)
  const files = listTemplateFiles(templateDir(spec))
  const produced = spec.setup.flatMap((step) => step.produces)
  const conflicts = findConflicts(dir, [...files.map((f) => f.target), ...produced])
  if (conflicts.blocked.length > 0) {
    throw mlserveError('MLS_INIT_DIR_INVALID', {dir: options.dir, problems: conflicts.blocked.map((b) => `${b.path} is ${b.reason}`)})
  }
  if (conflicts.existing.length > 0 && !options.force) {
    throw mlserveError('MLS_INIT_FILES_EXIST', {dir: options.dir, files: conflicts.existing})
  }

  // 2. An interpreter that can import what the predictor needs.
  const warnings: string[] = []
  let probe: ProbeResult | null = null
  if (spec.modules.length > 0) {
    progress(`Looking for a Python that can import ${spec.modules.join(', ')}…`)
    probe = await probeInterpreter(spec.modules, env)
    warnings.push(...interpreterWarnings(probe, {modules: spec.modules, apt: spec.install.apt, requirements: join(options.dir, 'requirements.txt')}, env))
  }
  const interpreter = probe?.interpreter ?? null

  // 3. Render in memory (an unknown placeholder fails here, before any write), then write.
  const vars: Vars = {
    name,
    schema_url: options.schemaUrl ?? SCHEMA_URL,
    python: interpreter ?? DEFAULT_INTERPRETER,
    interpreter_block: probe ? interpreterBlock(probe, spec.modules, spec.predictorType) : '',
  }
  const written = writeFiles(dir, renderFiles(files, vars))

  // 4. Setup steps, with the chosen interpreter.
  const outcomes: SetupOutcome[] = []
  const runSetup = options.setup ?? true
  if (spec.setup.length > 0 && runSetup && interpreter !== null) {
    for (const step of spec.setup) {
      progress(`${step.title} with ${interpreter}…`)
      outcomes.push(await runSetupStep(spec.name, step, {dir, interpreter, env}))
    }
  } else if (spec.setup.length > 0 && runSetup) {
    const steps = spec.setup.map((s) => s.script).join(', ')
    warnings.push(`Skipped ${steps}: no interpreter here can import ${spec.modules.join(', ')}. Run it once they are installed: cd ${options.dir} && python3 ${spec.setup[0].script}`)
  }
  const trained = spec.setup.length > 0 && outcomes.length === spec.setup.length

  const producedNow = trained ? produced.filter((p) => exists(join(dir, p))) : []
  return {
    dir,
    template: spec.name,
    name,
    files: [...new Set([...written, ...producedNow])].sort(),
    interpreter,
    trained,
    warnings,
    setup: outcomes,
  }
}

function assertDirectory(shown: string, dir: string): void {
  try {
    if (!statSync(dir).isDirectory()) {
      throw mlserveError('MLS_INIT_DIR_INVALID', {dir: shown, problems: ['it is a file, not a directory']})
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
}

function exists(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}
