// What a build will do, worked out without a Docker engine: the Dockerfile
// (generated, or the user's own), the context's files, the lint findings, and
// the checks that refuse a build before anything is sent (the secrets guard,
// missing inputs).
import {readFile, stat} from 'node:fs/promises'
import {basename, isAbsolute, relative, resolve, sep} from 'node:path'
import {displayPath, selectServedApi, type Project, type ServedApiConfig} from '../config/index.js'
import {mlserveError} from '../errors.js'
import {harnessFiles} from '../runtime/harness/index.js'
import {fileEntry, findSecretFiles, inlineEntry, walkProject, type ContextEntry} from './context.js'
import {DockerfileSyntaxError, parseDockerfile} from './dockerfile.js'
import {CONTEXT_PATHS, generateDockerfile, type DockerfileSpec} from './generate.js'
import {DEFAULT_IGNORES, IgnoreMatcher, parseIgnoreFile} from './ignore.js'
import {lintDockerfile, type LintFinding} from './lint.js'
import {isSecretName, type SecretEnv} from './secrets.js'

export interface PlanOptions {
  /** The loaded project (commands load the config; modules take a Project). */
  project: Project
  api?: string
  /** Overrides build.base_image (generated Dockerfile only). */
  baseImage?: string
  /** Paths of secret-looking files, or ENV/ARG names, that may go in anyway. */
  allowSecrets?: readonly string[]
  /** Lint rules to skip. */
  ignoreRules?: readonly string[]
}

export interface BuildPlan {
  project: Project
  api: ServedApiConfig
  /** The Dockerfile's text. */
  dockerfile: string
  /** 'generated', or the user's Dockerfile (relative to the project). */
  dockerfileSource: string
  /** Where the Dockerfile sits in the context. */
  dockerfilePath: string
  /** The context's entries (directories are added when packing). */
  entries: ContextEntry[]
  /** The project files that go in, relative to the project. */
  files: string[]
  contextBytes: number
  lint: LintFinding[]
  /** Things the user should know (skipped virtualenvs, an ignored flag). */
  notes: string[]
}

/** Works out the build of one API of a loaded project. Throws MlserveError for anything the user must fix. */
export async function planBuild(options: PlanOptions): Promise<BuildPlan> {
  const project = options.project
  const api = selectServedApi(project, options.api)
  const build = api.build
  const dir = project.dir
  const allow = [...(options.allowSecrets ?? []), ...allowSecretsFromConfig(api)]
  const notes: string[] = []

  const dockerignore = await readFile(resolve(dir, '.dockerignore'), 'utf8').catch(() => '')
  const ignore = new IgnoreMatcher([...DEFAULT_IGNORES, ...parseIgnoreFile(dockerignore), ...build.exclude])
  const include = build.include && build.include.length > 0 ? new IgnoreMatcher(build.include) : undefined

  const userDockerfile = build.dockerfile !== undefined ? insideProject(dir, build.dockerfile, 'build.dockerfile') : null
  const modelDir = userDockerfile === null && build.model_dir !== undefined ? insideProject(dir, build.model_dir, 'build.model_dir') : null
  const requirementsRel = insideProject(dir, build.python_requirements, 'build.python_requirements')
  const configRel = relative(dir, project.file).split(sep).join('/')

  const walked = await walkProject(dir, {
    ignore,
    include,
    alwaysInclude: (rel) => rel === requirementsRel || rel === configRel || (modelDir !== null && (rel === modelDir || rel.startsWith(modelDir + '/'))),
  })
  for (const venv of walked.virtualenvs) notes.push(`Left ${venv}/ out of the build context: it is a virtualenv (it holds pyvenv.cfg).`)

  // The plan either way: the user's Dockerfile or the generated one, with its context and lint.
  const finish = (dockerfile: string, dockerfileSource: string, entries: ContextEntry[], lint: LintFinding[]): BuildPlan => ({
    project,
    api,
    dockerfile,
    dockerfileSource,
    dockerfilePath: CONTEXT_PATHS.dockerfile,
    entries,
    files: walked.files.map((f) => f.rel),
    contextBytes: sum(entries),
    lint,
    notes,
  })

  const secrets = findSecretFiles(walked.files, allow)
  if (secrets.length > 0) {
    throw mlserveError('MLS_SECRET_FILES', {count: secrets.length, file: displayPath(project.file)}, {details: secrets.map((s) => `${s.path}  (${s.reason})`)})
  }

  const envSecrets: SecretEnv[] = Object.entries(api.predictor.env)
    .filter(([name, value]) => value !== '' && isSecretName(name) && !allow.includes(name))
    .map(([name]) => ({name, where: 'predictor.env'}))

  if (userDockerfile !== null) {
    if (options.baseImage !== undefined) notes.push(`--base-image is ignored: build.dockerfile (${userDockerfile}) names its own base image.`)
    const text = await readFile(resolve(dir, userDockerfile), 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw mlserveError('MLS_BUILD_INPUT_INVALID', {field: 'build.dockerfile', path: userDockerfile, detail: error.code === 'ENOENT' ? 'the file does not exist' : error.message})
    })
    let parsed
    try {
      parsed = parseDockerfile(text)
    } catch (error) {
      if (error instanceof DockerfileSyntaxError) throw mlserveError('MLS_DOCKERFILE_INVALID', {file: userDockerfile, line: error.line, detail: error.detail})
      throw error
    }
    for (const instr of parsed.instructions) {
      if (instr.keyword !== 'ENV' && instr.keyword !== 'ARG') continue
      for (const pair of instr.pairs) {
        if (pair.value !== null && pair.value !== '' && isSecretName(pair.key) && !allow.includes(pair.key)) {
          envSecrets.push({name: pair.key, where: `${userDockerfile}:${instr.line} (${instr.keyword})`})
        }
      }
    }
    if (envSecrets.length > 0) throw secretEnvError(envSecrets, project)
    const entries: ContextEntry[] = [
      ...walked.files.map((f) => fileEntry(f.rel, f)),
      inlineEntry(CONTEXT_PATHS.dockerfile, text),
      ...harnessEntries(),
    ]
    return finish(text, userDockerfile, entries, lintDockerfile(parsed, {ignore: options.ignoreRules}))
  }
  if (envSecrets.length > 0) throw secretEnvError(envSecrets, project)

  // The generated layout: each part in its own folder under .mlserve-build/.
  const entries: ContextEntry[] = []
  const taken = new Set<string>()
  const byRel = new Map(walked.files.map((f) => [f.rel, f]))

  // Requirements: the file (and the files it includes with -r/-c), only when it lists something.
  let requirements: string | null = null
  const reqFile = byRel.get(requirementsRel)
  if (reqFile === undefined) {
    const exists = await stat(resolve(dir, requirementsRel)).catch(() => undefined)
    if (exists?.isFile()) notes.push(`${requirementsRel} is excluded from the build context, so no requirements are installed.`)
    else if (build.python_requirements !== 'requirements.txt') {
      throw mlserveError('MLS_BUILD_INPUT_INVALID', {field: 'build.python_requirements', path: requirementsRel, detail: 'the file does not exist'})
    }
  } else {
    const reqText = await readFile(reqFile.abs, 'utf8')
    const info = requirementsInfo(reqText)
    if (info.real) {
      requirements = requirementsRel
      const included = [requirementsRel]
      for (const ref of info.includes) {
        const refRel = insideProject(dir, resolve(dir, requirementsRel, '..', ref), 'build.python_requirements')
        const refFile = byRel.get(refRel)
        if (refFile === undefined) throw mlserveError('MLS_BUILD_INPUT_INVALID', {field: 'build.python_requirements', path: refRel, detail: `${requirementsRel} includes it, but it is missing or excluded from the build context`})
        included.push(refRel)
      }
      for (const rel of included) {
        entries.push(fileEntry(`${CONTEXT_PATHS.requirements}/${rel}`, byRel.get(rel)!))
        taken.add(rel)
      }
    } else {
      notes.push(`${requirementsRel} lists no requirements, so the image has no pip layer.`)
      taken.add(requirementsRel)
    }
  }

  // The model directory.
  let modelLayer: string | null = null
  if (modelDir !== null) {
    const files = walked.files.filter((f) => f.rel.startsWith(modelDir + '/'))
    const info = await stat(resolve(dir, modelDir)).catch(() => undefined)
    if (!info?.isDirectory()) throw mlserveError('MLS_BUILD_INPUT_INVALID', {field: 'build.model_dir', path: modelDir, detail: info ? 'it is not a directory' : 'the directory does not exist'})
    if (files.length === 0) {
      notes.push(`build.model_dir ${modelDir}/ has no files in the build context (empty, or excluded), so the image has no model layer.`)
    } else {
      modelLayer = modelDir
      for (const f of files) {
        entries.push(fileEntry(`${CONTEXT_PATHS.model}/${f.rel.slice(modelDir.length + 1)}`, f))
        taken.add(f.rel)
      }
    }
  }

  // The config file, last.
  const configFile = byRel.get(configRel)
  if (configFile !== undefined) {
    entries.push(fileEntry(`${CONTEXT_PATHS.config}/${basename(configRel)}`, configFile))
    taken.add(configRel)
  }

  // Everything else is source code.
  const source = walked.files.filter((f) => !taken.has(f.rel))
  for (const f of source) entries.push(fileEntry(`${CONTEXT_PATHS.app}/${f.rel}`, f))

  let predictorPath: string | undefined
  if (api.predictor.type === 'python') {
    predictorPath = insideProject(dir, api.predictor.path ?? 'predictor.py', 'predictor.path')
    if (!source.some((f) => f.rel === predictorPath)) {
      const exists = await stat(resolve(dir, predictorPath)).catch(() => undefined)
      throw mlserveError('MLS_BUILD_INPUT_INVALID', {
        field: 'predictor.path',
        path: predictorPath,
        detail: exists ? 'it is excluded from the build context (by .dockerignore, build.exclude or build.include)' : 'the file does not exist',
      })
    }
    entries.push(...harnessEntries())
  } else if (api.predictor.type !== 'command') {
    throw mlserveError('MLS_PREDICTOR_TYPE_UNSUPPORTED', {api: api.name, type: api.predictor.type})
  }

  const spec: DockerfileSpec = {
    api: api.name,
    baseImage: options.baseImage ?? build.base_image,
    systemPackages: build.system_packages,
    requirements,
    modelDir: modelLayer,
    predictorType: api.predictor.type,
    predictorPath,
    command: api.predictor.command,
    readinessPath: api.predictor.readiness_path,
    pythonPath: api.predictor.python_path !== undefined ? insideProject(dir, api.predictor.python_path, 'predictor.python_path') : undefined,
    env: api.predictor.env,
    configFile: configFile !== undefined ? basename(configRel) : null,
  }
  const dockerfile = generateDockerfile(spec)
  entries.push(inlineEntry(CONTEXT_PATHS.dockerfile, dockerfile))
  return finish(dockerfile, 'generated', entries, lintDockerfile(dockerfile, {ignore: options.ignoreRules}))
}

/** build.allow_secrets: paths or ENV/ARG names the user vouches for. */
function allowSecretsFromConfig(api: ServedApiConfig): string[] {
  return api.build.allow_secrets
}

function secretEnvError(found: SecretEnv[], project: Project) {
  return mlserveError('MLS_SECRET_ENV', {count: found.length, file: displayPath(project.file)}, {details: found.map((s) => `${s.name}  (${s.where})`)})
}

/** A path relative to the project, POSIX, that must stay inside it. */
function insideProject(dir: string, path: string, field: string): string {
  const abs = isAbsolute(path) ? path : resolve(dir, path)
  const rel = relative(dir, abs)
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw mlserveError('MLS_BUILD_INPUT_INVALID', {field, path, detail: 'it must be a path inside the project directory (the directory of mlserve.yaml), which is the build context'})
  }
  return rel.split(sep).join('/')
}

export interface RequirementsInfo {
  /** Whether pip has anything to install (a requirement line, or -r/-e). */
  real: boolean
  /** Files included with -r/--requirement or -c/--constraint, as written. */
  includes: string[]
}

/** Whether a requirements file lists anything: lines that are not blank, comments or bare options. */
export function requirementsInfo(text: string): RequirementsInfo {
  let real = false
  const includes: string[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    if (line === '') continue
    const inc = /^(?:-r|--requirement|-c|--constraint)(?:\s*=?\s*)(\S+)$/.exec(line)
    if (inc) {
      includes.push(inc[1])
      if (!line.startsWith('-c') && !line.startsWith('--constraint')) real = true
      continue
    }
    if (line.startsWith('-e') || line.startsWith('--editable')) {
      real = true
      continue
    }
    if (line.startsWith('-')) continue // an option such as --index-url
    real = true
  }
  return {real, includes}
}

/** The harness's package directory, file by file, under CONTEXT_PATHS.harness. */
function harnessEntries(): ContextEntry[] {
  return harnessFiles().map((file) =>
    fileEntry(`${CONTEXT_PATHS.harness}/${file.rel}`, {rel: file.rel, abs: file.abs, type: 'file', size: file.size, executable: false}),
  )
}

function sum(entries: readonly ContextEntry[]): number {
  return entries.reduce((total, e) => total + e.size, 0)
}

