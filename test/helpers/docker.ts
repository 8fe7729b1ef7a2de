// The Docker engine for tests that need one. These tests never skip: when the
// engine does not answer, or the local base image (MLSERVE_TEST_BASE_IMAGE,
// default mlserve-base:bookworm) is missing, scripts/docker-env.sh is run to
// make them, and the test fails with a clear message if that does not work.
import {mkdtempSync, mkdirSync, rmSync, writeFileSync, cpSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {randomBytes} from 'node:crypto'
import assert from 'node:assert/strict'
import Docker from 'dockerode'
import {execa} from 'execa'
import {LABELS} from '../../src/docker/index.js'
import {APP_DIR_IN_IMAGE, CONTAINER_PORT, HARNESS_IN_IMAGE, harnessPath} from '../../src/runtime/harness/index.js'
import {repoRoot} from './cli.js'

export const baseImage = process.env.MLSERVE_TEST_BASE_IMAGE ?? 'mlserve-base:bookworm'

export const docker = new Docker()

/** Fails the test (never skips) when the engine or the base image cannot be had, after trying scripts/docker-env.sh. */
export async function requireDocker(): Promise<void> {
  try {
    await docker.ping()
  } catch (error) {
    const setup = await execa('bash', [join(repoRoot, 'scripts', 'docker-env.sh')], {reject: false, env: {MLSERVE_TEST_BASE_IMAGE: baseImage}})
    try {
      await docker.ping()
    } catch {
      assert.fail(
        `The Docker engine is not reachable (${(error as Error).message}); these tests need it and never skip.\nStart it with \`bash scripts/docker-env.sh\` (which starts dockerd and builds ${baseImage}).\n${setup.stderr}`,
      )
    }
  }
  try {
    await docker.getImage(baseImage).inspect()
  } catch {
    const setup = await execa('bash', [join(repoRoot, 'scripts', 'docker-env.sh')], {reject: false, env: {MLSERVE_TEST_BASE_IMAGE: baseImage}})
    assert.equal(setup.exitCode, 0, `scripts/docker-env.sh failed to make ${baseImage}:\n${setup.stderr}`)
  }
}

/** Builds a minimal image of the harness and the given app files on the base image; returns its unique tag. */
export async function buildTestImage(files: Record<string, string>, label = 'test'): Promise<string> {
  const tag = `mlserve-${label}-${randomBytes(4).toString('hex')}:test`
  const context = mkdtempSync(join(tmpdir(), 'mlserve-image-'))
  try {
    cpSync(harnessPath, join(context, 'mlserve_harness'), {recursive: true, filter: (path) => !path.includes('__pycache__')})
    for (const [name, content] of Object.entries(files)) {
      const path = join(context, 'app', name)
      mkdirSync(dirname(path), {recursive: true})
      writeFileSync(path, content)
    }
    mkdirSync(join(context, 'app'), {recursive: true})
    writeFileSync(
      join(context, 'Dockerfile'),
      [
        `FROM ${baseImage}`,
        `COPY mlserve_harness ${HARNESS_IN_IMAGE}`,
        `COPY app/ ${APP_DIR_IN_IMAGE}/`,
        `WORKDIR ${APP_DIR_IN_IMAGE}`,
        `EXPOSE ${CONTAINER_PORT}`,
        `CMD ["python3", "${HARNESS_IN_IMAGE}", "serve"]`,
        '',
      ].join('\n'),
    )
    await buildDirectory(context, ['Dockerfile', 'mlserve_harness', 'app'], tag)
    return tag
  } finally {
    rmSync(context, {recursive: true, force: true})
  }
}

/** Builds `files` of the directory `context` as `tag`; fails the test with the engine's output when the build fails. */
async function buildDirectory(context: string, files: string[], tag: string): Promise<void> {
  const stream = await docker.buildImage({context, src: files}, {t: tag, rm: true, forcerm: true, labels: {'dev.mlserve.test': 'true'}})
  const output = await new Promise<Array<{stream?: string; error?: string}>>((resolve, reject) => {
    docker.modem.followProgress(stream, (error, result) => (error ? reject(error) : resolve(result)))
  })
  const failed = output.find((event) => event.error)
  assert.equal(failed, undefined, `building ${tag} failed: ${failed?.error}\n${output.map((e) => e.stream ?? '').join('')}`)
}

export async function removeImage(tag: string): Promise<void> {
  try {
    await docker.getImage(tag).remove({force: true})
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode !== 404) throw error
  }
}

/** The containers mlserve process `pid` labelled as its own, running or not. */
export async function containersOf(pid: number): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({all: true, filters: {label: [`${LABELS.managed}=true`, `${LABELS.ownerPid}=${pid}`]}})
}

export async function removeContainersOf(pid: number): Promise<void> {
  for (const container of await containersOf(pid)) {
    await docker
      .getContainer(container.Id)
      .remove({force: true})
      .catch(() => undefined)
  }
}

/** The ids of the containers created since `sinceMs` by mlserve process `pid` (from the engine's events). */
export async function containersCreatedSince(sinceMs: number, pid: number): Promise<string[]> {
  const stream = await docker.getEvents({
    since: (sinceMs / 1e3).toFixed(3) as unknown as number,
    until: ((Date.now() + 1e3) / 1e3).toFixed(3) as unknown as number,
    filters: {type: ['container'], event: ['create'], label: [`${LABELS.ownerPid}=${pid}`]},
  })
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => (JSON.parse(line) as {id: string}).id)
}

// ---------------------------------------------------------------------------
// Build tests (mlserve build / inspect): every image and container a test
// makes is registered here and removed by cleanupDocker() in an after hook.

const trackedImages = new Set<string>()
const trackedContainers = new Set<string>()

/** A name no other test run uses, such as mlserve-test-1a2b3c4d. */
export function uniqueName(prefix = 'mlserve-test'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

/** Registers an image (tag or id) for removal by cleanupDocker(). */
export function trackImage(ref: string): string {
  trackedImages.add(ref)
  return ref
}

/** Registers a container for removal by cleanupDocker(). */
export function trackContainer(id: string): string {
  trackedContainers.add(id)
  return id
}

/** Removes every tracked container, then every tracked image (newest first, with its untagged parents). */
export async function cleanupDocker(): Promise<void> {
  for (const id of trackedContainers) {
    await docker
      .getContainer(id)
      .remove({force: true, v: true})
      .catch(() => undefined)
  }
  trackedContainers.clear()
  for (const ref of [...trackedImages].reverse()) await removeImage(ref).catch(() => undefined)
  trackedImages.clear()
}

/** The RootFS layer digests (DiffIDs) of an image, bottom first. */
export async function layerDigests(ref: string): Promise<string[]> {
  const info = await docker.getImage(ref).inspect()
  return info.RootFS.Layers ?? []
}

/** An image FROM the base image with one RUN on top (a base with a broken Python, say), tracked for cleanupDocker(); returns its tag. */
export async function deriveBaseImage(run: string, label = 'base'): Promise<string> {
  const tag = trackImage(`${uniqueName(`mlserve-${label}`)}:test`)
  const context = mkdtempSync(join(tmpdir(), 'mlserve-base-'))
  try {
    writeFileSync(join(context, 'Dockerfile'), `FROM ${baseImage}\nRUN ${run}\n`)
    await buildDirectory(context, ['Dockerfile'], tag)
    return tag
  } finally {
    rmSync(context, {recursive: true, force: true})
  }
}
