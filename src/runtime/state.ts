// Running runtimes announce themselves with a small state file, so that
// `mlserve status` and `mlserve predict` find them without flags.
import {mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

export interface RuntimeRecord {
  pid: number
  url: string
  project: string
  startedAt: string
  apis: Array<{name: string; endpoint: string}>
  splitters: Array<{name: string; endpoint: string}>
  /** How its replicas run; mlserve apply plans with the same driver. */
  driver: 'process' | 'docker'
  /** What changes the runtime through its traffic routes must carry: this file is readable by its owner only. */
  token: string
}

export function stateDir(): string {
  return process.env.MLSERVE_STATE_DIR ?? join(tmpdir(), `mlserve-${userInfo().uid}`)
}

export function writeRuntimeRecord(record: RuntimeRecord): string {
  const dir = stateDir()
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const file = join(dir, `runtime-${record.pid}-${new URL(record.url).port}.json`)
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, JSON.stringify(record, null, 2), {mode: 0o600})
  renameSync(temp, file)
  return file
}

export function removeRuntimeRecord(file: string): void {
  rmSync(file, {force: true})
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Runtimes whose process is alive, newest first; files of dead ones are removed. */
export function listRuntimeRecords(): RuntimeRecord[] {
  const dir = stateDir()
  let names: string[]
  try {
    names = readdirSync(dir).filter((name) => name.startsWith('runtime-') && name.endsWith('.json'))
  } catch {
    return []
  }
  const records: RuntimeRecord[] = []
  for (const name of names) {
    const file = join(dir, name)
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as RuntimeRecord
      if (alive(record.pid)) records.push(record)
      else rmSync(file, {force: true})
    } catch {
      rmSync(file, {force: true})
    }
  }
  return records.sort((a, b) => b.startedAt.localeCompare(a.startedAt))
}
