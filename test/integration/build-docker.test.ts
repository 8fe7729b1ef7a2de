// `mlserve build` and `mlserve inspect` on a real Docker engine, as a user runs
// them (the built CLI). Never skipped: without an engine these tests fail and
// say how to start one. The base is the local image MLSERVE_TEST_BASE_IMAGE
// (mlserve-base:bookworm), made by scripts/docker-env.sh. Every image and
// container made here has a unique name and is removed in the after hook.
import {after, before, describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {appendFileSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {BuildResult, InspectReport} from '../../src/image/index.js'
import {containerEnv} from '../../src/runtime/harness/index.js'
import type {ReplicaSpec} from '../../src/runtime/replica.js'
import {initProject} from '../../src/scaffold/index.js'
import {runCli} from '../helpers/cli.js'
import {baseImage, cleanupDocker, deriveBaseImage, docker, layerDigests, requireDocker, trackContainer, trackImage, uniqueName} from '../helpers/docker.js'
import {projectsRemovedAfterFile} from '../helpers/projects.js'

const repo = uniqueName('mlserve-build-test')
const workDir = mkdtempSync(join(tmpdir(), 'mlserve-build-'))
const project = projectsRemovedAfterFile()
const startedAt = Math.floor(Date.now() / 1000)

before(async () => {
  await requireDocker()
})

after(async () => {
  await cleanupDocker()
  // Intermediate images a failed build left behind (this file's own: they copy mlserve's requirements folder).
  const dangling = await docker.listImages({filters: {dangling: ['true']}})
  for (const image of dangling.filter((i) => i.Created >= startedAt - 5)) {
    const info = await docker.getImage(image.Id).inspect().catch(() => null)
    const cmd = JSON.stringify(info?.ContainerConfig?.Cmd ?? [])
    if (cmd.includes('/opt/mlserve/requirements/') || cmd.includes(repo)) await docker.getImage(image.Id).remove({force: true}).catch(() => undefined)
  }
  rmSync(workDir, {recursive: true, force: true})
})


async function build(dir: string, tag: string, ...extra: string[]): Promise<BuildResult> {
  trackImage(tag)
  const run = await runCli(['build', dir, '--base-image', baseImage, '--tag', tag, '--json', ...extra], {timeout: 300_000})
  assert.equal(run.exitCode, 0, `mlserve build failed:\n${run.stdout}\n${run.stderr}`)
  return JSON.parse(run.stdout) as BuildResult
}

interface CliError {
  code: string
  message: string
  suggestion: string
  details: string[]
}

/** A build that the image check refuses: exit 1, the JSON error, and no tag left behind. */
async function refusedBuild(dir: string, tag: string, ...extra: string[]): Promise<CliError> {
  trackImage(tag)
  const run = await runCli(['build', dir, '--tag', tag, '--json', ...extra], {timeout: 300_000})
  assert.equal(run.exitCode, 1, run.stdout + run.stderr)
  assert.deepEqual(await docker.listImages({filters: {reference: [tag]}}), [], 'the image was not tagged')
  const error = (JSON.parse(run.stdout) as {error: CliError}).error
  // The built image is kept untagged (the message names its id): removed after the file, like the tagged ones.
  const id = /\(([0-9a-f]{12}), left untagged\)/.exec(error.message)?.[1]
  assert.ok(id, error.message)
  trackImage(id)
  return error
}

async function inspect(image: string, ...extra: string[]): Promise<{report: InspectReport | null; exitCode: number; stderr: string; stdout: string}> {
  const run = await runCli(['inspect', image, ...extra], {timeout: 300_000})
  let report: InspectReport | null = null
  if (extra.includes('--json') && run.exitCode === 0) report = JSON.parse(run.stdout) as InspectReport
  return {report, exitCode: run.exitCode, stderr: run.stderr, stdout: run.stdout}
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined
    try {
      // Raced against a timer that holds the event loop open: a fetch to a port the
      // engine's proxy publishes before anything listens behind it can stay pending
      // with no handle of its own (Node 20's fetch), and the test would end there.
      const attempt = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the probe did not settle within 5s')), 5_000)
      })
      const value = await Promise.race([probe(), attempt])
      if (value !== undefined) return value
    } catch (error) {
      last = error
    } finally {
      clearTimeout(timer)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}

describe('mlserve build: the python template on the local base image', () => {
  const dir = join(workDir, 'sentiment')
  const v1 = `${repo}:v1`
  const v2 = `${repo}:v2`
  let first: BuildResult

  before(async () => {
    await initProject({dir, template: 'python', name: 'sentiment'})
  })

  test('builds ordered layers, lint-clean, with almost no waste', async () => {
    first = await build(dir, v1)
    assert.equal(first.tag, v1)
    assert.match(first.image, /^sha256:[0-9a-f]{64}$/)
    assert.equal(first.dockerfileSource, 'generated')
    assert.deepEqual(first.lint, [])
    assert.match(first.check ?? '', /^python3 3\.\d+\.\d+ loads the harness$/)
    // base, user, model, harness, code, config: the empty requirements file makes no layer.
    assert.equal(first.layers.length, 6, first.layers.map((l) => l.createdBy).join('\n'))
    assert.match(first.layers[1].createdBy, /^RUN .*\/etc\/passwd/)
    assert.match(first.layers[2].createdBy, /^COPY --chown=10001:10001 dir:\S+ in \/app\/model\/$/)
    assert.match(first.layers[3].createdBy, /in \/opt\/mlserve\/mlserve_harness\s*$/)
    assert.match(first.layers[4].createdBy, /in \/app\/$/)
    assert.match(first.layers[5].createdBy, /in \/app\/mlserve\.yaml$/)
    assert.ok(first.inspect.efficiency > 0.999, `efficiency ${first.inspect.efficiency}`)
    assert.ok(first.inspect.userWastedPercent < 0.05, `user wasted ${first.inspect.userWastedPercent}`)
    assert.ok(!first.dockerfile.includes('pip install'))
    const info = await docker.getImage(v1).inspect()
    assert.equal(info.Config.User, '10001:10001')
    assert.deepEqual(info.Config.Cmd, ['python3', '/opt/mlserve/mlserve_harness', 'serve'])
    assert.equal(info.Config.Labels?.['dev.mlserve.api'], 'sentiment')
    assert.equal(info.Config.Labels?.['org.opencontainers.image.version'], 'v1')
  })

  test('the image serves predictions with the runtime contract’s environment, and reports healthy', async () => {
    const spec: ReplicaSpec = {
      api: 'sentiment',
      index: 0,
      kind: 'python',
      projectDir: dir,
      interpreter: 'python3',
      predictorPath: join(dir, 'predictor.py'),
      predictorConfig: {model_path: 'model/weights.json', threshold: 0.5},
      env: {},
      processes: 2,
      threads: 1,
      readinessPath: '/healthz',
      predictPath: '/predict',
      gpus: [],
      cpus: null,
      readinessTimeoutMs: 30_000,
      maxBodyBytes: 1 << 20,
    }
    const env = Object.entries(containerEnv(spec)).map(([k, v]) => `${k}=${v}`)
    const container = await docker.createContainer({
      Image: v1,
      name: uniqueName('mlserve-build-run'),
      Env: env,
      ExposedPorts: {'8080/tcp': {}},
      // The image's HEALTHCHECK command, checked every second here instead of every 10s.
      Healthcheck: {Interval: 1e9, Timeout: 5e9, Retries: 3, StartPeriod: 0},
      HostConfig: {PortBindings: {'8080/tcp': [{HostIp: '127.0.0.1', HostPort: ''}]}},
    })
    trackContainer(container.id)
    await container.start()
    const port = await waitFor('the published port', 10_000, async () => {
      const info = await container.inspect()
      const binding = info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort
      return binding ? Number(binding) : undefined
    })
    const body = await waitFor('a prediction', 30_000, async () => {
      const response = await fetch(`http://127.0.0.1:${port}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({text: 'a great, wonderful film'})})
      return response.status === 200 ? ((await response.json()) as {label: string; score: number}) : undefined
    })
    assert.equal(body.label, 'positive')
    assert.ok(body.score > 0.5)
    const health = await waitFor('the healthcheck', 30_000, async () => {
      const state = (await container.inspect()).State.Health?.Status
      return state === 'healthy' || state === 'unhealthy' ? state : undefined
    })
    assert.equal(health, 'healthy')
  })

  test('a code edit reuses every layer before the code layer', async () => {
    appendFileSync(join(dir, 'predictor.py'), '\n# a one-line code change\n')
    const second = await build(dir, v2)
    const before = await layerDigests(v1)
    const afterEdit = await layerDigests(v2)
    assert.equal(afterEdit.length, before.length)
    const code = second.layers.findIndex((l) => / in \/app\/$/.test(l.createdBy))
    assert.equal(code, 4)
    assert.deepEqual(afterEdit.slice(0, code), before.slice(0, code), 'base, user, model and harness layers are reused')
    assert.notEqual(afterEdit[code], before[code], 'the code layer is new')
    const cached = second.steps.filter((s) => s.cached).map((s) => s.instruction)
    const firstUncached = second.steps.findIndex((s, i) => i > 0 && !s.cached) // FROM is never a cache hit
    assert.match(second.steps[firstUncached].instruction, /^COPY --chown=10001:10001 \.mlserve-build\/app\/ \/app\/$/, `steps from cache: ${cached.join(' | ')}`)
  })

  test('inspect --ci passes on it', async () => {
    const run = await inspect(v1, '--ci', '--lowest-efficiency', '0.95', '--highest-user-wasted-percent', '0.05')
    assert.equal(run.exitCode, 0, run.stderr)
    assert.match(run.stderr, /pass lowestEfficiency/)
  })
})

describe('mlserve inspect: an image built to waste bytes', () => {
  const S = 2_000_000 // written in one layer, deleted in the next
  const K = 500_000 // kept
  const tag = `${repo}:waste`

  test('efficiency, wasted bytes and user wasted percent are exact, and --ci fails on it', async () => {
    // A command server with a Dockerfile of its own, so the image needs nothing of mlserve's (no harness) and is not checked for it.
    const p = project({
      'mlserve.yaml': 'name: waste\npredictor:\n  type: command\n  command: python3 -c "print(1)"\nbuild:\n  dockerfile: Dockerfile\n',
      'waste.bin': Buffer.alloc(S, 7),
      'keep.bin': Buffer.alloc(K, 9),
      Dockerfile: `FROM ${baseImage}\nCOPY waste.bin /waste.bin\nRUN rm /waste.bin\nCOPY keep.bin /keep.bin\nUSER 10001:10001\nCMD ["python3", "-c", "print(1)"]\n`,
    })
    const built = await build(p.dir, tag)
    assert.equal(built.dockerfileSource, 'Dockerfile')
    const base = await inspect(baseImage, '--json')
    assert.equal(base.exitCode, 0, base.stderr)
    const B = base.report!.layersSize
    assert.equal(base.report!.efficiency, 1)
    assert.equal(base.report!.wastedBytes, 0)

    const waste = await inspect(tag, '--json')
    assert.equal(waste.exitCode, 0, waste.stderr)
    const r = waste.report!
    assert.deepEqual(
      r.layers.map((l) => l.size),
      [B, S, 0, K],
    )
    assert.equal(r.wastedBytes, S)
    assert.equal(r.userSize, S + K)
    assert.equal(r.userWastedPercent, S / (S + K))
    assert.equal(r.efficiency, (B + K) / (B + S + K))
    assert.deepEqual(r.inefficientPaths[0], {path: 'waste.bin', count: 2, cumulative: S, minimum: 0, wasted: S})
    // The build ran the same inspection.
    assert.equal(built.inspect.wastedBytes, S)

    const ci = await inspect(tag, '--ci')
    assert.equal(ci.exitCode, 1)
    assert.match(ci.stderr, /MLS_CI_CHECKS_FAILED/)
    assert.match(ci.stderr, /user wasted 0\.8 > highest allowed 0\.1/)
    const loose = await inspect(tag, '--ci', '--highest-user-wasted-percent', '0.8')
    assert.equal(loose.exitCode, 0, loose.stderr)
    const bytes = await inspect(tag, '--ci', '--highest-user-wasted-percent', '1', '--highest-wasted-bytes', String(S - 1))
    assert.equal(bytes.exitCode, 1)
    assert.match(bytes.stderr, /wasted 2000000 bytes > highest allowed 1999999/)
  })

  test('an unknown image is a clear error', async () => {
    const run = await inspect(`${repo}:does-not-exist`)
    assert.equal(run.exitCode, 2)
    assert.match(run.stderr, /MLS_DOCKER_IMAGE_NOT_FOUND/)
  })
})

describe('mlserve build: refusals and failures', () => {
  test('secrets in the context refuse the build and list the files', async () => {
    const p = project({
      'mlserve.yaml': 'name: leaky\npredictor:\n  type: python\n  path: predictor.py\n',
      'predictor.py': 'x = 1\n',
      '.env_secrets': 'AWS_SECRET_ACCESS_KEY=abc\n',
      id_rsa: '-----BEGIN OPENSSH PRIVATE KEY-----\n',
    })
    const run = await runCli(['build', p.dir, '--base-image', baseImage, '--tag', `${repo}:leaky`])
    assert.equal(run.exitCode, 2)
    assert.match(run.stderr, /MLS_SECRET_FILES/)
    assert.match(run.stderr, /\.env_secrets/)
    assert.match(run.stderr, /id_rsa/)
    assert.match(run.stderr, /\.dockerignore/)
    assert.ok(!(await docker.listImages({filters: {reference: [`${repo}:leaky`]}})).length, 'nothing was built')
  })

  test('a failing RUN exits non-zero and shows the failing step with its output', async () => {
    const p = project({
      'mlserve.yaml': 'name: broken\npredictor:\n  type: python\n  path: predictor.py\nbuild:\n  dockerfile: Dockerfile\n',
      'predictor.py': 'x = 1\n',
      Dockerfile: `FROM ${baseImage}\nRUN echo "${repo} is about to fail" && false\n`,
    })
    trackImage(`${repo}:broken`)
    const run = await runCli(['build', p.dir, '--tag', `${repo}:broken`], {timeout: 300_000})
    assert.equal(run.exitCode, 1, run.stderr)
    assert.match(run.stderr, /MLS_BUILD_FAILED/)
    assert.match(run.stderr, /step 2 \(RUN echo .* && false\)/)
    assert.match(run.stderr, /returned a non-zero code: 1/)
    assert.match(run.stderr, /\| .* is about to fail/)
  })

  test('requirements on a base image without pip fail at the pip step, with pip’s complaint', async () => {
    const p = project({
      'mlserve.yaml': 'name: needs-pip\npredictor:\n  type: python\n  path: predictor.py\n',
      'predictor.py': 'x = 1\n',
      'requirements.txt': `# ${repo}\nnumpy==1.26.4\n`,
    })
    trackImage(`${repo}:needs-pip`)
    const run = await runCli(['build', p.dir, '--base-image', baseImage, '--tag', `${repo}:needs-pip`, '--json'], {timeout: 300_000})
    assert.equal(run.exitCode, 1)
    const error = (JSON.parse(run.stdout) as {error: {code: string; message: string; details: string[]}}).error
    assert.equal(error.code, 'MLS_BUILD_FAILED')
    assert.match(error.message, /pip install --no-cache-dir -r \/opt\/mlserve\/requirements\/requirements\.txt/)
    assert.ok(error.details.some((d) => /No module named pip/.test(d)), error.details.join('\n'))
  })

  test('a base with a partial Python (python3-minimal: no json) is built, then refused before it is tagged, naming the module and the fix', async () => {
    // Debian's python3-minimal lacks json, http and email; this base is the local one without json.
    const minimal = await deriveBaseImage('rm -rf /usr/lib/python3.11/json', 'py-minimal')
    const p = project({
      'mlserve.yaml': 'name: minimal\npredictor:\n  type: python\n  path: predictor.py\n',
      'predictor.py': 'class PythonPredictor:\n    def __init__(self, config):\n        pass\n\n    def predict(self, payload):\n        return payload\n',
    })
    const tag = `${repo}:minimal`
    const error = await refusedBuild(p.dir, tag, '--base-image', minimal)
    assert.equal(error.code, 'MLS_IMAGE_PYTHON_INCOMPLETE')
    assert.match(error.message, new RegExp(`^Image ${tag} \\(`))
    assert.match(error.message, /lacks the standard-library module json \(ModuleNotFoundError: No module named 'json'\)/)
    assert.ok(error.suggestion.includes(minimal), error.suggestion)
    assert.match(error.suggestion, /python3 package \(not python3-minimal\)/)
    assert.deepEqual(await docker.listContainers({all: true, filters: {ancestor: [minimal]}}), [], 'the check container was removed')
  })

  test('a Dockerfile of your own for a python predictor must carry the harness', async () => {
    const p = project({
      'mlserve.yaml': 'name: no-harness\npredictor:\n  type: python\n  path: predictor.py\nbuild:\n  dockerfile: Dockerfile\n',
      'predictor.py': 'x = 1\n',
      Dockerfile: `FROM ${baseImage}\nCOPY predictor.py /app/predictor.py\nUSER 10001:10001\nCMD ["python3", "-c", "print(1)"]\n`,
    })
    const error = await refusedBuild(p.dir, `${repo}:no-harness`)
    assert.equal(error.code, 'MLS_IMAGE_CHECK_FAILED')
    assert.match(error.message, /it has no harness at \/opt\/mlserve\//)
  })

  test('a base without python3 is refused before it is tagged', async () => {
    const bare = await deriveBaseImage('rm -f /usr/bin/python3 /usr/bin/python3.11', 'no-python')
    const p = project({
      'mlserve.yaml': 'name: bare\npredictor:\n  type: python\n  path: predictor.py\n',
      'predictor.py': 'x = 1\n',
    })
    const error = await refusedBuild(p.dir, `${repo}:bare`, '--base-image', bare)
    assert.equal(error.code, 'MLS_IMAGE_CHECK_FAILED')
    assert.match(error.message, /it has no python3 on its PATH/)
  })
})
