// `mlserve build` against a naive Dockerfile, for the sklearn template.
//
// Both images start FROM the same local base (mlserve-base:bookworm: Debian
// minbase + python3, no pip; the machine cannot pull from Docker Hub) and get
// scikit-learn the same way: Debian's python3-sklearn (1.2.1, the version the
// template's model is trained with here), through apt, since the base has no
// pip. So the template's requirements.txt is emptied and the package moves to
// build.system_packages. Everything else is the template as `mlserve init`
// writes it, in a git repository.
//
// The naive image is the Dockerfile most projects start with:
//   FROM base / WORKDIR /app / COPY . . / RUN apt-get update && apt-get install -y …
// (no .dockerignore, the install after the code, recommends installed, apt
// lists kept, running as root).
//
// Measured, each from a cold build (no cache), then after a one-line edit of
// predictor.py: the image size, the rebuild time, the bytes of new layers a
// push would upload, and the efficiency (as `mlserve inspect` counts it).
// apt downloads from deb.debian.org in both cold builds and in the naive
// rebuild; that is the cost the layer order saves.
//
// Run: node --import tsx bench/build-sklearn.ts [--keep]
import {appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Docker from 'dockerode'
import {execa} from 'execa'
import * as tarFs from 'tar-fs'
import {connectDocker} from '../src/docker/index.js'
import {buildImage, followBuild, formatBytes, inspectImage, type InspectReport} from '../src/image/index.js'
import {harnessPath} from '../src/runtime/harness/index.js'
import {initProject} from '../src/scaffold/index.js'
import {loadProject} from '../src/config/index.js'

const BASE = process.env.MLSERVE_TEST_BASE_IMAGE || 'mlserve-base:bookworm'
// Pinned to bookworm's version, as `mlserve build --ci` asks (hadolint DL3008).
const PACKAGES = ['python3-sklearn=1.2.1+dfsg-1']
const keep = process.argv.includes('--keep')
const stamp = Date.now().toString(36)

interface Measure {
  coldBuildS: number
  rebuildS: number
  /** Total time of `mlserve build` after the edit, inspection included (mlserve only). */
  rebuildWithInspectS?: number
  sizeBytes: number
  pushBytesAfterEdit: number
  layersReused: number
  layers: number
  efficiency: number
  wastedBytes: number
  userWastedPercent: number
}

async function git(dir: string, ...args: string[]): Promise<void> {
  await execa('git', args, {cwd: dir, env: {GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.com'}})
}

async function makeProject(root: string, name: string): Promise<string> {
  const dir = join(root, name)
  const init = await initProject({dir, template: 'sklearn', name: 'iris'})
  if (!init.trained) throw new Error(`the sklearn template did not train (${init.warnings.join('; ')}); this benchmark needs a python3 with scikit-learn 1.2 on this machine`)
  writeFileSync(join(dir, 'requirements.txt'), '# Installed from Debian (python3-sklearn) through build.system_packages: the local base image has no pip.\n')
  await git(dir, 'init', '-q')
  await git(dir, 'add', '-A')
  await git(dir, 'commit', '-qm', 'iris')
  return dir
}

async function layerDigests(docker: Docker, ref: string): Promise<string[]> {
  return (await docker.getImage(ref).inspect()).RootFS.Layers ?? []
}

/** Bytes of the layers of `after` that `before` does not have: what a push of `after` uploads. */
function newLayerBytes(report: InspectReport, before: string[]): number {
  const old = new Set(before)
  return report.layers.filter((l) => !old.has(l.digest)).reduce((sum, l) => sum + l.size, 0)
}

async function naiveBuild(docker: Docker, dir: string, tag: string, noCache: boolean): Promise<number> {
  const started = Date.now()
  const context = tarFs.pack(dir)
  const response = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {t: tag, nocache: noCache, rm: true, forcerm: true})
  await followBuild(response as NodeJS.ReadableStream as import('node:stream').Readable, () => {})
  return (Date.now() - started) / 1000
}

/** Both images must serve: a prediction through the published port, then the container is removed. */
async function smoke(docker: Docker, image: string): Promise<void> {
  const container = await docker.createContainer({
    Image: image,
    Env: ['MLSERVE_HOST=0.0.0.0', 'MLSERVE_PORT=8080', 'MLSERVE_PROJECT_DIR=/app', 'MLSERVE_PREDICTOR=predictor.py', 'OMP_NUM_THREADS=1'],
    ExposedPorts: {'8080/tcp': {}},
    HostConfig: {PortBindings: {'8080/tcp': [{HostIp: '127.0.0.1', HostPort: ''}]}},
  })
  try {
    await container.start()
    const port = Number((await container.inspect()).NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort)
    const deadline = Date.now() + 60_000
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/predict`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({instances: [[5.1, 3.5, 1.4, 0.2]]})})
        const body = (await response.json()) as {predictions?: string[]}
        if (response.status === 200 && body.predictions?.[0] === 'setosa') return
        throw new Error(`${response.status} ${JSON.stringify(body)}`)
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`${image} does not serve: ${(error as Error).message}`)
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }
  } finally {
    await container.remove({force: true}).catch(() => undefined)
  }
}

async function main(): Promise<void> {
  const docker = await connectDocker()
  await docker
    .getImage(BASE)
    .inspect()
    .catch(() => {
      throw new Error(`the base image ${BASE} is missing: run \`bash scripts/docker-env.sh\``)
    })
  const root = mkdtempSync(join(tmpdir(), 'mlserve-bench-build-'))
  const tags = {mlserve1: `bench-iris-mlserve:${stamp}-1`, mlserve2: `bench-iris-mlserve:${stamp}-2`, naive1: `bench-iris-naive:${stamp}-1`, naive2: `bench-iris-naive:${stamp}-2`}
  try {
    // --- mlserve build
    const ours = await makeProject(root, 'ours')
    const yaml = join(ours, 'mlserve.yaml')
    const text = readFileSync(yaml, 'utf8').replace('system_packages: []', `system_packages: [${PACKAGES.join(', ')}]`)
    writeFileSync(yaml, text)
    await git(ours, 'commit', '-qam', 'system packages')
    process.stderr.write('mlserve build (cold)…\n')
    let builtAt = 0
    const t0 = Date.now()
    const first = await buildImage({project: await loadProject(ours), baseImage: BASE, tag: tags.mlserve1, noCache: true, onEvent: (e) => e.type === 'built' && (builtAt = Date.now())})
    const oursCold = (builtAt - t0) / 1000
    appendFileSync(join(ours, 'predictor.py'), '# a one-line code change\n')
    process.stderr.write('mlserve build (after a one-line edit)…\n')
    const t1 = Date.now()
    const second = await buildImage({project: await loadProject(ours), baseImage: BASE, tag: tags.mlserve2, onEvent: (e) => e.type === 'built' && (builtAt = Date.now())})
    const oursRebuild = (builtAt - t1) / 1000
    const oursTotal = (Date.now() - t1) / 1000
    const before = await layerDigests(docker, tags.mlserve1)
    const oursMeasure: Measure = {
      coldBuildS: oursCold,
      rebuildS: oursRebuild,
      rebuildWithInspectS: oursTotal,
      sizeBytes: (await docker.getImage(tags.mlserve2).inspect()).Size,
      pushBytesAfterEdit: newLayerBytes(second.inspect, before),
      layersReused: second.inspect.layers.filter((l) => before.includes(l.digest)).length,
      layers: second.inspect.layers.length,
      efficiency: second.inspect.efficiency,
      wastedBytes: second.inspect.wastedBytes,
      userWastedPercent: second.inspect.userWastedPercent,
    }
    void first
    await smoke(docker, tags.mlserve2)

    // --- the naive Dockerfile
    const naive = await makeProject(root, 'naive')
    rmSync(join(naive, '.dockerignore'))
    cpSync(harnessPath, join(naive, 'mlserve_harness'), {recursive: true, filter: (path) => !path.includes('__pycache__')})
    writeFileSync(
      join(naive, 'Dockerfile'),
      [
        `FROM ${BASE}`,
        'WORKDIR /app',
        'COPY . .',
        `RUN apt-get update && apt-get install -y ${PACKAGES.join(' ')}`,
        'ENV MLSERVE_HOST=0.0.0.0 MLSERVE_PORT=8080 MLSERVE_PROJECT_DIR=/app',
        'EXPOSE 8080',
        `CMD ["python3", "/app/mlserve_harness", "serve"]`,
        '',
      ].join('\n'),
    )
    await git(naive, 'add', '-A')
    await git(naive, 'commit', '-qm', 'Dockerfile')
    process.stderr.write('naive build (cold)…\n')
    const naiveCold = await naiveBuild(docker, naive, tags.naive1, true)
    appendFileSync(join(naive, 'predictor.py'), '# a one-line code change\n')
    process.stderr.write('naive build (after a one-line edit)…\n')
    const naiveRebuild = await naiveBuild(docker, naive, tags.naive2, false)
    await smoke(docker, tags.naive2)
    const naiveBefore = await layerDigests(docker, tags.naive1)
    const naiveReport = await inspectImage(docker, tags.naive2)
    const naiveMeasure: Measure = {
      coldBuildS: naiveCold,
      rebuildS: naiveRebuild,
      sizeBytes: (await docker.getImage(tags.naive2).inspect()).Size,
      pushBytesAfterEdit: newLayerBytes(naiveReport, naiveBefore),
      layersReused: naiveReport.layers.filter((l) => naiveBefore.includes(l.digest)).length,
      layers: naiveReport.layers.length,
      efficiency: naiveReport.efficiency,
      wastedBytes: naiveReport.wastedBytes,
      userWastedPercent: naiveReport.userWastedPercent,
    }

    const baseSize = (await docker.getImage(BASE).inspect()).Size
    const r = (a: number, b: number) => (b === 0 ? 'n/a' : `${(a / b).toFixed(1)}×`)
    const rows: Array<[string, string, string, string]> = [
      ['image size', formatBytes(naiveMeasure.sizeBytes), formatBytes(oursMeasure.sizeBytes), r(naiveMeasure.sizeBytes, oursMeasure.sizeBytes)],
      ['  above the base image', formatBytes(naiveMeasure.sizeBytes - baseSize), formatBytes(oursMeasure.sizeBytes - baseSize), r(naiveMeasure.sizeBytes - baseSize, oursMeasure.sizeBytes - baseSize)],
      ['cold build', `${naiveMeasure.coldBuildS.toFixed(1)} s`, `${oursMeasure.coldBuildS.toFixed(1)} s`, r(naiveMeasure.coldBuildS, oursMeasure.coldBuildS)],
      ['rebuild after a one-line code edit', `${naiveMeasure.rebuildS.toFixed(1)} s`, `${oursMeasure.rebuildS.toFixed(1)} s`, r(naiveMeasure.rebuildS, oursMeasure.rebuildS)],
      ['  layers reused by that rebuild', `${naiveMeasure.layersReused} of ${naiveMeasure.layers}`, `${oursMeasure.layersReused} of ${oursMeasure.layers}`, ''],
      ['  bytes a push uploads after it', formatBytes(naiveMeasure.pushBytesAfterEdit), formatBytes(oursMeasure.pushBytesAfterEdit), r(naiveMeasure.pushBytesAfterEdit, oursMeasure.pushBytesAfterEdit)],
      ['efficiency', `${(naiveMeasure.efficiency * 100).toFixed(3)}%`, `${(oursMeasure.efficiency * 100).toFixed(3)}%`, ''],
      ['wasted bytes', formatBytes(naiveMeasure.wastedBytes), formatBytes(oursMeasure.wastedBytes), ''],
      ['user wasted percent', `${(naiveMeasure.userWastedPercent * 100).toFixed(2)}%`, `${(oursMeasure.userWastedPercent * 100).toFixed(2)}%`, ''],
    ]
    const lines = [
      `sklearn template, base ${BASE} (${formatBytes(baseSize)}), ${PACKAGES.join(' ')} from Debian; ${process.platform}/${process.arch}, ${(await docker.info()).NCPU} CPUs, Docker ${(await docker.version()).Version} (classic builder)`,
      `mlserve's rebuild with its inspection (docker save + layer scan): ${oursMeasure.rebuildWithInspectS?.toFixed(1)} s`,
      '',
      '| | naive Dockerfile | mlserve build | naive / mlserve |',
      '| --- | ---: | ---: | ---: |',
      ...rows.map((row) => `| ${row.join(' | ')} |`),
    ]
    process.stdout.write(lines.join('\n') + '\n')
    const out = join(process.cwd(), 'bench', 'results')
    mkdirSync(out, {recursive: true})
    writeFileSync(join(out, `build-sklearn-${stamp}.json`), JSON.stringify({base: BASE, baseSize, packages: PACKAGES, naive: naiveMeasure, mlserve: oursMeasure}, null, 2))
  } finally {
    if (!keep) {
      for (const tag of Object.values(tags).reverse()) await docker.getImage(tag).remove({force: true}).catch(() => undefined)
    }
    rmSync(root, {recursive: true, force: true})
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
