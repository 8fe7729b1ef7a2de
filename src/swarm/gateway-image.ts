// The image the gateway and the autoscaler services run on Swarm. No image
// can be pulled where mlserve deploys from, and Debian bookworm ships Node 18
// while mlserve needs ≥ 20.5, so the image carries in the Node runtime this
// CLI runs on (process.execPath) on top of a Debian base, with mlserve's own
// compiled code, its harness files and its production node_modules. One code
// path: the gateway in the cluster is exactly the code and the runtime that
// ran here, with no second Node version to support.
//
// The tag is mlserve-gateway:<version>-<hash of the context's content>, so an
// unchanged mlserve reuses its image (built only when the tag is absent) and a
// changed one gets a new tag. Layers go from least to most often changed: the
// Node binary, node_modules, then mlserve's own files; file times and owners
// are normalized in the context, so the same files give the same layers (a
// registry then already has the big ones when only mlserve's code changed).
import {createHash} from 'node:crypto'
import {createReadStream, existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, type Stats} from 'node:fs'
import {join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'
import type Docker from 'dockerode'
import tarFs, {type Headers, type Pack} from 'tar-fs'
import {LABELS} from '../docker/index.js'
import {mlserveError} from '../errors.js'

/** The package root (where package.json is), from src/swarm or dist/swarm alike. */
export const packageRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)))

export const GATEWAY_IMAGE_REPO = 'mlserve-gateway'
export const NODE_IN_IMAGE = '/usr/local/bin/node'
export const MLSERVE_IN_IMAGE = '/opt/mlserve'
/** The image's entrypoint: `IMAGE gateway --plan …` and `IMAGE autoscaler --config …` run mlserve's hidden commands. */
export const GATEWAY_ENTRYPOINT = [NODE_IN_IMAGE, `${MLSERVE_IN_IMAGE}/bin/run.js`]
/** The image's user (nobody): the gateway needs no privilege. The autoscaler service, which talks to the Docker socket, overrides it (see docs/deploy.md). */
export const GATEWAY_IMAGE_USER = '65534:65534'
/** The default base: any glibc Debian or Ubuntu image has the shared libraries the Node binary needs (libstdc++, libgcc_s, libc), as apt itself needs them. */
export const DEFAULT_GATEWAY_BASE_IMAGE = 'debian:bookworm-slim'

/** Every file time in the context: fixed, so equal files make equal layers. */
const EPOCH = new Date('2000-01-01T00:00:00Z')

export interface GatewayImageOptions {
  baseImage: string
  log?: (line: string) => void
}

export interface GatewayImage {
  tag: string
  id: string
  /** False when the tag was already there and was reused. */
  built: boolean
  /** The image's size in bytes, as the engine reports it. */
  size: number
}

/** One source of the context: a directory or file on this machine and where it goes in the context. */
export interface ContextPart {
  /** The path in the context (POSIX), which the Dockerfile copies. */
  name: string
  /** The directory or file here. */
  abs: string
  /** For a directory: nested node_modules folders are left out (the lock lists the production ones separately). */
  skipNestedModules: boolean
}

/**
 * The gateway image for this mlserve on `baseImage`: reused when its tag is
 * on the engine, else built (and its Node runtime run once in the build, so a
 * base without the libraries Node needs fails there, with the reason).
 */
export async function ensureGatewayImage(docker: Docker, options: GatewayImageOptions): Promise<GatewayImage> {
  const log = options.log ?? (() => undefined)
  const root = packageRoot
  await checkPlatform(docker)
  const base = await inspectBase(docker, options.baseImage)
  checkDist(root)
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {version: string}
  const parts = contextParts(root)
  const dockerfile = gatewayDockerfile(options.baseImage)
  const hash = await contextHash(parts, dockerfile, base.Id)
  const tag = `${GATEWAY_IMAGE_REPO}:${manifest.version}-${hash}`

  const existing = await docker
    .getImage(tag)
    .inspect()
    .catch((error: {statusCode?: number}) => {
      if (error.statusCode === 404) return null
      throw error
    })
  if (existing) {
    log(`gateway image: ${tag} is there (${formatMegabytes(existing.Size)}), reused`)
    return {tag, id: existing.Id, built: false, size: existing.Size}
  }

  log(`gateway image: building ${tag} on ${options.baseImage} (Node ${process.version}, mlserve ${manifest.version})`)
  const started = Date.now()
  const stream = await docker.buildImage(contextStream(parts, dockerfile) as unknown as NodeJS.ReadableStream, {
    t: tag,
    rm: true,
    forcerm: true,
    labels: {
      [LABELS.managed]: 'true',
      [LABELS.title]: GATEWAY_IMAGE_REPO,
      [LABELS.version]: manifest.version,
      [LABELS.revision]: hash,
      [LABELS.nodeVersion]: process.version,
    },
  })
  type BuildEvent = {stream?: string; error?: string}
  const events = await new Promise<BuildEvent[]>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: BuildEvent[]) => (error ? reject(error) : resolve(output)))
  }).catch((error: Error): BuildEvent[] => [{error: error.message}])
  const failed = events.find((event) => event.error)
  if (failed) {
    const output = events
      .map((event) => event.stream ?? '')
      .join('')
      .trim()
      .split('\n')
      .slice(-8)
    throw mlserveError('MLS_SWARM_GATEWAY_IMAGE_FAILED', {tag, base: options.baseImage, reason: failed.error ?? 'unknown'}, {details: output})
  }
  const built = await docker.getImage(tag).inspect()
  log(`gateway image: built ${tag} in ${((Date.now() - started) / 1000).toFixed(1)} s (${formatMegabytes(built.Size)})`)
  return {tag, id: built.Id, built: true, size: built.Size}
}

/** The Dockerfile: the Node binary, then node_modules, then mlserve's own files; Node is run once so a base that cannot run it fails the build. */
export function gatewayDockerfile(baseImage: string): string {
  return [
    `FROM ${baseImage}`,
    `COPY node/node ${NODE_IN_IMAGE}`,
    `RUN ["${NODE_IN_IMAGE}", "--version"]`,
    `COPY modules/node_modules ${MLSERVE_IN_IMAGE}/node_modules`,
    `COPY app/ ${MLSERVE_IN_IMAGE}/`,
    // HOME: the gateway's user has none, and Node and mlserve look there for their state and config directories.
    'ENV NODE_ENV=production HOME=/tmp',
    'WORKDIR /tmp',
    `USER ${GATEWAY_IMAGE_USER}`,
    `ENTRYPOINT ${JSON.stringify(GATEWAY_ENTRYPOINT)}`,
    '',
  ].join('\n')
}

/** mlserve's compiled code must be there and newer than its sources: the image carries dist/, it does not compile. */
export function checkDist(root: string): void {
  const dist = join(root, 'dist')
  if (!existsSync(join(dist, 'cli', 'main.js'))) throw mlserveError('MLS_SWARM_GATEWAY_DIST_STALE', {root, reason: 'dist/ is missing (there is no dist/cli/main.js)'})
  const src = join(root, 'src')
  // An installed mlserve has no TypeScript sources: its dist is what was published.
  if (!existsSync(src)) return
  for (const file of readdirSync(src, {recursive: true, encoding: 'utf8'})) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue
    const compiled = join(dist, file.replace(/\.ts$/, '.js'))
    const source = statSync(join(src, file)).mtimeMs
    if (!existsSync(compiled)) throw mlserveError('MLS_SWARM_GATEWAY_DIST_STALE', {root, reason: `dist/ has no ${relative(root, compiled)} for src/${file}`})
    if (statSync(compiled).mtimeMs < source) throw mlserveError('MLS_SWARM_GATEWAY_DIST_STALE', {root, reason: `src/${file} changed after ${relative(root, compiled)} was compiled`})
  }
}

/** The carried Node binary must run where the engine runs containers: Linux, on the engine's architecture. */
async function checkPlatform(docker: Docker): Promise<void> {
  const version = await docker.version()
  const engineArch = ({amd64: 'x64', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64le: 'ppc64'} as Record<string, string>)[version.Arch] ?? version.Arch
  if (process.platform !== 'linux' || process.arch !== engineArch) {
    throw mlserveError('MLS_SWARM_GATEWAY_NODE_UNSUITABLE', {node: `${process.platform}/${process.arch}`, engine: `${version.Os}/${version.Arch}`})
  }
}

async function inspectBase(docker: Docker, baseImage: string): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(baseImage).inspect()
  } catch (error) {
    if ((error as {statusCode?: number}).statusCode === 404) throw mlserveError('MLS_SWARM_GATEWAY_BASE_MISSING', {base: baseImage})
    throw error
  }
}

/**
 * The context's parts: the Node binary, each production package of the lock
 * (package-lock.json's packages without "dev": true that are installed here:
 * optional ones for other platforms, such as @lmdb/lmdb-darwin-arm64, are
 * not), and mlserve's own files.
 */
export function contextParts(root: string): ContextPart[] {
  const parts: ContextPart[] = [{name: 'node/node', abs: realpathSync(process.execPath), skipNestedModules: false}]
  for (const pkg of productionPackages(root)) parts.push({name: `modules/${pkg}`, abs: join(root, pkg), skipNestedModules: true})
  for (const file of ['package.json', 'oclif.manifest.json']) {
    if (existsSync(join(root, file))) parts.push({name: `app/${file}`, abs: join(root, file), skipNestedModules: false})
  }
  for (const dir of ['bin', 'dist']) parts.push({name: `app/${dir}`, abs: join(root, dir), skipNestedModules: false})
  // The harness's Python files, where the runtime resolves them from dist (src/runtime/harness/index.ts).
  const harness = join('src', 'runtime', 'harness', 'mlserve_harness')
  for (const file of readdirSync(join(root, harness)).filter((name) => name.endsWith('.py')).sort()) {
    parts.push({name: `app/${harness.split(sep).join('/')}/${file}`, abs: join(root, harness, file), skipNestedModules: false})
  }
  return parts
}

/** The installed production packages' folders (node_modules/…), from package-lock.json, else npm's hidden lock in node_modules. */
export function productionPackages(root: string): string[] {
  const lockFile = [join(root, 'package-lock.json'), join(root, 'node_modules', '.package-lock.json')].find((file) => existsSync(file))
  if (!lockFile) throw mlserveError('MLS_SWARM_GATEWAY_DIST_STALE', {root, reason: 'there is no package-lock.json (nor node_modules/.package-lock.json) to tell production packages from development ones'})
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as {packages?: Record<string, {dev?: boolean; link?: boolean}>}
  return Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true && existsSync(join(root, path)))
    .map(([path]) => path)
    .sort()
}

/** Every file of the parts in a stable order: [context name, path here, stats]. */
function* contextFiles(parts: ContextPart[]): Generator<[string, string, Stats]> {
  for (const part of parts) yield* walk(part.name, part.abs, part.skipNestedModules)
}

function* walk(name: string, abs: string, skipNestedModules: boolean): Generator<[string, string, Stats]> {
  const stats = lstatSync(abs)
  yield [name, abs, stats]
  if (!stats.isDirectory()) return
  for (const entry of readdirSync(abs).sort()) {
    if (skipNestedModules && entry === 'node_modules') continue
    yield* walk(`${name}/${entry}`, join(abs, entry), skipNestedModules)
  }
}

/** A short hash of everything the image is made of: each file's name, mode and content, the Dockerfile and the base image's id. */
export async function contextHash(parts: ContextPart[], dockerfile: string, baseId: string): Promise<string> {
  const hash = createHash('sha256')
  hash.update(`${dockerfile}\0${baseId}\0`)
  for (const [name, abs, stats] of contextFiles(parts)) {
    hash.update(`${name}\0${stats.mode}\0`)
    if (stats.isSymbolicLink()) hash.update(readlinkSync(abs))
    else if (stats.isFile()) for await (const chunk of createReadStream(abs)) hash.update(chunk as Buffer)
    hash.update('\0')
  }
  return hash.digest('hex').slice(0, 12)
}

/** The build context as a tar stream: each part packed under its context name, then the Dockerfile. */
function contextStream(parts: ContextPart[], dockerfile: string): Pack {
  const normalize = (name: string) => (header: Headers): Headers => ({...header, name: header.name === '.' ? name : `${name}/${header.name}`, mtime: EPOCH, uid: 0, gid: 0})
  let pack: Pack | undefined
  const next = (index: number): void => {
    if (index === parts.length) {
      pack!.entry({name: 'Dockerfile', mtime: EPOCH, mode: 0o644}, dockerfile)
      pack!.finalize()
      return
    }
    const part = parts[index]
    const isDirectory = statSync(part.abs).isDirectory()
    // A file is packed from its folder with itself as the one entry; a folder from itself.
    const cwd = isDirectory ? part.abs : join(part.abs, '..')
    const entry = isDirectory ? '.' : part.abs.slice(cwd.length + 1)
    const map = isDirectory ? normalize(part.name) : (header: Headers): Headers => ({...header, name: part.name, mtime: EPOCH, uid: 0, gid: 0})
    const packed = tarFs.pack(cwd, {
      entries: [entry],
      pack,
      finalize: false,
      map,
      ignore: part.skipNestedModules ? (path: string) => path.split(sep).slice(part.abs.split(sep).length).includes('node_modules') : undefined,
      finish: () => next(index + 1),
    })
    pack ??= packed
  }
  next(0)
  return pack!
}

function formatMegabytes(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`
}
