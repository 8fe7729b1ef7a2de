// The deploy record: what `mlserve deploy` leaves on this machine so that
// `traffic … --env`, `predict --env`, `deploy --status` and `delete` find the
// deployed gateway and its token. One JSON file per environment and project in
// the user's state directory, readable by its owner only (it holds the token).
// Light: node's fs only, so the client commands load it cheaply.
import {mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

export interface DeployRecord {
  engine: 'swarm'
  env: string
  /** The project's name on the cluster (its directory's name). */
  project: string
  /** The config file it was deployed from. */
  projectFile: string
  /** The gateway, as reached from this machine: http://HOST:PORT. */
  url: string
  /** What the gateway's control routes want (traffic set, rollback, apply). */
  token: string
  deployedAt: string
  apis: Array<{name: string; endpoint: string; service: string}>
  splitters: Array<{name: string; endpoint: string}>
  /** Every service of the deploy. */
  services: string[]
}

/** $MLSERVE_STATE_DIR, else $XDG_STATE_HOME/mlserve, else ~/.local/state/mlserve; records go in its deploys/ folder. */
export function deployRecordsDir(): string {
  const base = process.env.MLSERVE_STATE_DIR || join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'mlserve')
  return join(base, 'deploys')
}

export function deployRecordFile(env: string, project: string): string {
  return join(deployRecordsDir(), `${env}--${project}.json`)
}

/** Writes the record atomically, mode 0600 in a 0700 folder. */
export function writeDeployRecord(record: DeployRecord): string {
  const dir = deployRecordsDir()
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const file = deployRecordFile(record.env, record.project)
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, {mode: 0o600})
  renameSync(temp, file)
  return file
}

export function readDeployRecord(env: string, project: string): DeployRecord | null {
  try {
    return JSON.parse(readFileSync(deployRecordFile(env, project), 'utf8')) as DeployRecord
  } catch {
    return null
  }
}

/** The records of one environment (every project deployed there from this machine), newest first. */
export function listDeployRecords(env: string): DeployRecord[] {
  let names: string[]
  try {
    names = readdirSync(deployRecordsDir()).filter((name) => name.startsWith(`${env}--`) && name.endsWith('.json'))
  } catch {
    return []
  }
  const records: DeployRecord[] = []
  for (const name of names) {
    try {
      const record = JSON.parse(readFileSync(join(deployRecordsDir(), name), 'utf8')) as DeployRecord
      if (record.env === env) records.push(record)
    } catch {
      // a file being written, or not ours: skipped
    }
  }
  return records.sort((a, b) => b.deployedAt.localeCompare(a.deployedAt))
}

export function removeDeployRecord(env: string, project: string): boolean {
  const file = deployRecordFile(env, project)
  try {
    rmSync(file)
    return true
  } catch {
    return false
  }
}
