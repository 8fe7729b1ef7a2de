// The check that a built image can run what mlserve runs in it, before the
// build is called a success: a short-lived container, without network, runs
// the image's python3 on a probe that imports each standard-library module the
// harness imports at load, then the harness's own command line (`--help`,
// which loads every module it needs and serves nothing). A base image with a
// partial Python (Debian's python3-minimal has no json, http or email) builds
// fine and would otherwise fail only at `mlserve run --driver docker`.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {basename, join} from 'node:path'
import type Docker from 'dockerode'
import {runOnce} from '../docker/index.js'
import {mlserveError} from '../errors.js'
import {HARNESS_IN_IMAGE, harnessPath} from '../runtime/harness/index.js'
import {parseDockerfile} from './dockerfile.js'

/** The oldest Python the harness supports (as the process driver checks it). */
const MIN_PYTHON: readonly [number, number] = [3, 8]
const CHECK_TIMEOUT_MS = 60_000
/** Modules the HEALTHCHECK of a generated command-kind image imports. */
const HEALTHCHECK_MODULES = ['os', 'urllib.request']

export interface ImageCheckInput {
  /** The image, by id or tag. */
  image: string
  /** How the user knows it (NAME:VERSION, or the id), for messages. */
  name: string
  predictorType: 'python' | 'command'
  /** The Dockerfile that made it, for the base image's name in messages. */
  dockerfile: string
  /** Whether mlserve wrote the Dockerfile (then a command-kind image's HEALTHCHECK needs python3). */
  generated: boolean
}

export interface ImageCheck {
  /** What was checked, for the build's output; null when nothing needed checking. */
  checked: string | null
}

/**
 * Runs the image's python3 on the probe. Throws MLS_IMAGE_PYTHON_INCOMPLETE
 * when modules the harness needs are missing, and MLS_IMAGE_CHECK_FAILED when
 * there is no python3, it is too old, or the harness does not load.
 */
export async function checkImage(docker: Docker, input: ImageCheckInput): Promise<ImageCheck> {
  const runsHarness = input.predictorType === 'python'
  // A command-kind image of the user's own Dockerfile needs nothing of mlserve's inside it.
  if (!runsHarness && !input.generated) return {checked: null}
  const modules = runsHarness ? harnessModules() : HEALTHCHECK_MODULES
  const result = await runOnce(docker, {image: input.image, command: ['python3', '-c', probeScript(modules, runsHarness ? HARNESS_IN_IMAGE : null)], timeoutMs: CHECK_TIMEOUT_MS})
  const base = baseImageOf(input.dockerfile)
  const lines = result.output.split('\n').map((line) => line.trimEnd()).filter((line) => line.length > 0)
  const fail = (reason: string, details = lines.slice(-30)) => mlserveError('MLS_IMAGE_CHECK_FAILED', {image: input.name, base, reason}, {details})

  if (result.startError !== undefined) {
    const noPython = /executable file not found|no such file or directory/i.test(result.startError)
    throw fail(noPython ? 'it has no python3 on its PATH' : `the engine could not start a container from it: ${result.startError}`, [])
  }
  if (result.timedOut) throw fail(`the check did not finish within ${CHECK_TIMEOUT_MS / 1000}s`)
  const missing = lines.filter((line) => line.startsWith('mlserve-missing ')).map((line) => line.slice('mlserve-missing '.length))
  if (missing.length > 0) {
    const names = missing.map((entry) => entry.split('\t')[0])
    const errors = missing.map((entry) => entry.split('\t')[1] ?? '')
    throw mlserveError('MLS_IMAGE_PYTHON_INCOMPLETE', {image: input.name, base, modules: names, error: errors[0]}, {details: errors})
  }
  const version = lines.find((line) => line.startsWith('mlserve-python-too-old '))
  if (version !== undefined) {
    throw fail(`its python3 is ${version.slice('mlserve-python-too-old '.length)}; the harness needs ${MIN_PYTHON.join('.')} or newer`, [])
  }
  if (result.exitCode !== 0) {
    const missingModule = lines.map((line) => /^ModuleNotFoundError: No module named '([^']+)'/.exec(line)).find((m) => m !== null)
    if (missingModule) {
      throw mlserveError('MLS_IMAGE_PYTHON_INCOMPLETE', {image: input.name, base, modules: [missingModule[1]], error: missingModule[0]}, {details: lines.slice(-30)})
    }
    const harnessMissing = runsHarness && lines.some((line) => line.startsWith('mlserve-no-harness'))
    throw fail(harnessMissing ? `it has no harness at ${HARNESS_IN_IMAGE} (copy the directory .mlserve-build/mlserve_harness there, see docs/build.md)` : `the probe exited with code ${result.exitCode ?? 'unknown'}`)
  }
  const python = lines.find((line) => line.startsWith('mlserve-python '))?.slice('mlserve-python '.length) ?? 'python3'
  return {checked: runsHarness ? `python3 ${python} loads the harness` : `python3 ${python} can run the HEALTHCHECK`}
}

/**
 * The probe, run as `python3 -c`: prints `mlserve-missing NAME<TAB>ERROR` for
 * each module that does not import, `mlserve-python-too-old V` below the
 * minimum, `mlserve-no-harness` when the harness is absent; then loads the
 * harness's command line with --help. It uses nothing beyond sys, os and runpy,
 * which even python3-minimal has.
 */
export function probeScript(modules: readonly string[], harness: string | null): string {
  return [
    'import sys',
    `missing = []`,
    `for name in ${JSON.stringify(modules)}:`,
    '    try:',
    '        __import__(name)',
    '    except ImportError as error:',
    '        missing.append("%s\\t%s: %s" % (name, type(error).__name__, error))',
    'for entry in missing:',
    '    print("mlserve-missing " + entry)',
    'if missing:',
    '    sys.exit(3)',
    `if sys.version_info < ${JSON.stringify(MIN_PYTHON).replace('[', '(').replace(']', ')')}:`,
    '    print("mlserve-python-too-old %d.%d.%d" % sys.version_info[:3])',
    '    sys.exit(4)',
    'print("mlserve-python %d.%d.%d" % sys.version_info[:3])',
    ...(harness === null
      ? []
      : [
          'import os, runpy',
          `harness = ${JSON.stringify(harness)}`,
          'if not os.path.exists(harness):',
          '    print("mlserve-no-harness")',
          '    sys.exit(5)',
          'sys.argv = [harness, "--help"]',
          'try:',
          '    runpy.run_path(harness, run_name="__main__")',
          'except SystemExit as done:',
          '    sys.exit(done.code)',
        ]),
  ].join('\n')
}

/**
 * The standard-library modules the harness imports at load (module-level
 * `import X` and `from X import`), read from its source: the harness file, or
 * every .py file of the harness package. Its own modules are left out.
 */
export function harnessModules(source: string = harnessPath): string[] {
  const files = pythonFiles(source)
  const own = new Set(files.map((file) => basename(file, '.py')).concat(basename(source).replace(/\.py$/, '')))
  const names = new Set<string>()
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const from = /^from\s+([A-Za-z_][\w.]*)\s+import\s/.exec(line)
      const plain = /^import\s+(.+?)\s*(#.*)?$/.exec(line)
      const found = from ? [from[1]] : plain ? plain[1].split(',').map((part) => part.trim().split(/\s+as\s+/)[0]) : []
      for (const name of found) {
        if (name === '__future__' || own.has(name.split('.')[0])) continue
        names.add(name)
      }
    }
  }
  return [...names].sort()
}

function pythonFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, {withFileTypes: true}).flatMap((entry) => {
    const full = join(path, entry.name)
    if (entry.isDirectory()) return entry.name === '__pycache__' ? [] : pythonFiles(full)
    return entry.name.endsWith('.py') ? [full] : []
  })
}

/** The image the Dockerfile's last stage starts FROM, or null when it cannot be read. */
export function baseImageOf(dockerfile: string): string | null {
  try {
    const from = parseDockerfile(dockerfile).instructions.filter((i) => i.keyword === 'FROM').at(-1)
    return from?.args.split(/\s+/)[0] ?? null
  } catch {
    return null
  }
}
