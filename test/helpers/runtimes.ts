// The setup of an integration test file that starts Runtimes in-process: a
// state dir of its own (the runtimes announce themselves there, apart from other
// files' and the user's), its projects removed after the file, and its runtimes
// stopped after each test. Call it at the top level of the test file.
import {after, afterEach} from 'node:test'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Runtime} from '../../src/runtime/runtime.js'
import type {TestProject} from './projects.js'

/** Push each project and runtime a test makes onto these lists; `name` names the state dir (mlserve-<name>-state-…). */
export function runtimesOfThisFile(name: string): {projects: TestProject[]; runtimes: Runtime[]} {
  const stateDir = mkdtempSync(join(tmpdir(), `mlserve-${name}-state-`))
  process.env.MLSERVE_STATE_DIR = stateDir
  const projects: TestProject[] = []
  const runtimes: Runtime[] = []
  after(() => {
    projects.forEach((p) => p.cleanup())
    rmSync(stateDir, {recursive: true, force: true})
  })
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.stop({drain: false})))
  })
  return {projects, runtimes}
}
