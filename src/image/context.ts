// The build context: the files an image needs, walked from the project with
// the ignore rules applied, checked by the secrets guard, and packed into a
// tar that is the same bytes for the same inputs: entries in sorted order,
// every parent directory listed, fixed modification times (1970-01-01T00:00:01Z,
// as Jib does), owner 0:0 with no names, and modes normalised to 0644/0755.
import {createReadStream} from 'node:fs'
import {lstat, readdir, readlink, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {PassThrough, type Readable} from 'node:stream'
import * as tar from 'tar-stream'
import {IgnoreMatcher} from './ignore.js'
import {secretFileReason, type SecretFile} from './secrets.js'

/** The fixed modification time of every context entry. */
export const CONTEXT_MTIME = new Date(1000)
/** Where mlserve's own files (Dockerfile, harness, the generated layout) live in a context. */
export const RESERVED_DIR = '.mlserve-build'

export interface ProjectFile {
  /** POSIX path relative to the project directory. */
  rel: string
  /** Absolute path on disk. */
  abs: string
  type: 'file' | 'symlink'
  size: number
  executable: boolean
  /** A symlink's target. */
  linkname?: string
}

export interface WalkOptions {
  /** Exclusion patterns, in order (defaults, .dockerignore, build.exclude). */
  ignore: IgnoreMatcher
  /** When given, a file is kept only if it (or a parent) matches one of these. */
  include?: IgnoreMatcher
  /** Paths kept whatever include says (the model directory, the requirements file). */
  alwaysInclude?: (rel: string) => boolean
}

export interface WalkResult {
  files: ProjectFile[]
  /** Virtualenv directories skipped because they hold a pyvenv.cfg. */
  virtualenvs: string[]
}

/** The project's files that pass the ignore rules, sorted by path. */
export async function walkProject(dir: string, options: WalkOptions): Promise<WalkResult> {
  const files: ProjectFile[] = []
  const virtualenvs: string[] = []
  const prune = !options.ignore.hasNegations

  async function visit(absDir: string, relDir: string): Promise<void> {
    const entries = await readdir(absDir, {withFileTypes: true})
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const rel = relDir === '' ? entry.name : `${relDir}/${entry.name}`
      const abs = join(absDir, entry.name)
      // mlserve's own folder, and a .dockerignore that the engine would apply a second time (to mlserve's files too).
      if (rel === RESERVED_DIR || rel === '.dockerignore') continue
      if (entry.isDirectory()) {
        const venv = await stat(join(abs, 'pyvenv.cfg')).catch(() => undefined)
        if (venv?.isFile()) {
          virtualenvs.push(rel)
          continue
        }
        if (prune && options.ignore.ignores(rel)) continue
        await visit(abs, rel)
        continue
      }
      if (!entry.isFile() && !entry.isSymbolicLink()) continue
      if (options.ignore.ignores(rel)) continue
      if (options.include && !options.include.matchesAny(rel) && !options.alwaysInclude?.(rel)) continue
      const info = await lstat(abs)
      if (info.isSymbolicLink()) {
        files.push({rel, abs, type: 'symlink', size: 0, executable: false, linkname: await readlink(abs)})
      } else if (info.isFile()) {
        files.push({rel, abs, type: 'file', size: info.size, executable: (info.mode & 0o111) !== 0})
      }
    }
  }

  await visit(dir, '')
  return {files, virtualenvs}
}

/** The files that look like secrets, minus those the user allowed (a path, or a directory above it). */
export function findSecretFiles(files: readonly ProjectFile[], allowed: readonly string[]): SecretFile[] {
  const allow = allowed.map((a) => a.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, ''))
  const out: SecretFile[] = []
  for (const file of files) {
    const reason = secretFileReason(file.rel)
    if (reason === null) continue
    if (allow.some((a) => file.rel === a || file.rel.startsWith(a + '/'))) continue
    out.push({path: file.rel, reason})
  }
  return out
}

// ---------------------------------------------------------------------------
// The tar

export interface ContextEntry {
  /** POSIX path inside the context. */
  name: string
  type: 'file' | 'symlink'
  /** A file on disk, or inline content. */
  source: string | Buffer
  size: number
  executable: boolean
  linkname?: string
}

export function inlineEntry(name: string, content: string | Buffer): ContextEntry {
  const buffer = typeof content === 'string' ? Buffer.from(content) : content
  return {name, type: 'file', source: buffer, size: buffer.length, executable: false}
}

export function fileEntry(name: string, file: ProjectFile): ContextEntry {
  return {name, type: file.type, source: file.abs, size: file.size, executable: file.executable, linkname: file.linkname}
}

/** The entries with every parent directory added, sorted by path (a directory sorts as `name/`, before its children). */
function withDirectories(entries: readonly ContextEntry[]): Array<ContextEntry | {name: string; type: 'directory'}> {
  const dirs = new Set<string>()
  for (const entry of entries) {
    const parts = entry.name.split('/')
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
  }
  const all: Array<ContextEntry | {name: string; type: 'directory'}> = [
    ...[...dirs].map((name) => ({name, type: 'directory' as const})),
    ...entries,
  ]
  const key = (e: {name: string; type: string}) => (e.type === 'directory' ? e.name + '/' : e.name)
  all.sort((a, b) => {
    const ka = key(a)
    const kb = key(b)
    return ka < kb ? -1 : ka > kb ? 1 : 0
  })
  for (let i = 1; i < all.length; i++) {
    if (all[i].name === all[i - 1].name) throw new Error(`context entry ${all[i].name} appears twice`)
  }
  return all
}

/** Packs the entries into a deterministic tar stream. A file that changes size while packing fails the stream. */
export function packContext(entries: readonly ContextEntry[]): Readable {
  const pack = tar.pack()
  const ordered = withDirectories(entries)
  const out = new PassThrough()
  pack.on('error', (error) => out.destroy(error))
  pack.pipe(out)
  ;(async () => {
    for (const entry of ordered) {
      const common = {mtime: CONTEXT_MTIME, uid: 0, gid: 0, uname: '', gname: ''}
      if (entry.type === 'directory') {
        await addEntry(pack, {...common, name: entry.name + '/', type: 'directory', mode: 0o755})
      } else if (entry.type === 'symlink') {
        await addEntry(pack, {...common, name: entry.name, type: 'symlink', mode: 0o777, linkname: entry.linkname ?? ''})
      } else {
        const header = {...common, name: entry.name, type: 'file' as const, mode: entry.executable ? 0o755 : 0o644, size: entry.size}
        if (typeof entry.source === 'string') await addStream(pack, header, createReadStream(entry.source))
        else await addEntry(pack, header, entry.source)
      }
    }
    pack.finalize()
  })().catch((error: unknown) => {
    out.destroy(error as Error)
    pack.destroy(error as Error)
  })
  return out
}

type TarHeader = Partial<tar.Header> & {name: string}

function addEntry(pack: tar.Pack, header: TarHeader, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve())
    if (content === undefined) pack.entry(header, done)
    else pack.entry(header, content, done)
  })
}

async function addStream(pack: tar.Pack, header: TarHeader, source: Readable): Promise<void> {
  let settle!: {resolve: () => void; reject: (error: Error) => void}
  const done = new Promise<void>((resolve, reject) => {
    settle = {resolve, reject}
  })
  const sink = pack.entry(header, (error) => (error ? settle.reject(new Error(`${header.name}: ${error.message} (did the file change while packing?)`)) : settle.resolve()))
  try {
    for await (const chunk of source) {
      if (!sink.write(chunk as Buffer)) await new Promise<void>((resolve) => sink.once('drain', () => resolve()))
    }
    sink.end(undefined)
  } catch (error) {
    sink.destroy(error as Error)
    settle.reject(error as Error)
  }
  return done
}

/** The whole tar in memory (tests, and small contexts). */
export async function contextBytes(entries: readonly ContextEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of packContext(entries)) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
