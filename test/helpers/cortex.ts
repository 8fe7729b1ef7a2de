// Cortex-format config files in tests: the warnings mlserve should give for
// them, computed from the YAML itself (not from mlserve), and a cached loader.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {CORTEX_UNIMPLEMENTED, loadProject, realtimeApis, type Project} from '../../src/config/index.js'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The ignored Cortex fields a file uses, as the warning paths mlserve should report. */
export function expectedIgnoredFields(path: string): string[] {
  const items = parse(readFileSync(path, 'utf8')) as unknown
  const listForm = Array.isArray(items)
  const expected: string[] = []
  for (const item of listForm ? items : [items]) {
    if (!isObject(item)) continue
    const kind = typeof item.kind === 'string' ? item.kind : 'RealtimeAPI'
    const prefix = listForm ? `api "${String(item.name)}" › ` : ''
    for (const [section, fields] of Object.entries(CORTEX_UNIMPLEMENTED)) {
      const [sectionKind, sub] = section.split('.')
      if (sectionKind !== kind) continue
      const keys = sub === undefined ? [''] : sub === 'predictor' ? ['predictor', 'handler'] : [sub]
      for (const key of keys) {
        const holder = key === '' ? item : item[key]
        if (!isObject(holder)) continue
        for (const [field, entry] of Object.entries(fields)) {
          if (!Object.hasOwn(holder, field) || (entry.when && !entry.when(holder[field]))) continue
          expected.push(`${prefix}${key === '' ? '' : `${key}.`}${field}`)
        }
      }
    }
  }
  return expected.sort()
}

/** loadProject for the files of one folder, each loaded once. */
export function projectsIn(dir: string): (file: string) => Promise<Project> {
  const projects = new Map<string, Project>()
  return async (file) => {
    if (!projects.has(file)) projects.set(file, await loadProject(join(dir, file)))
    return projects.get(file)!
  }
}

/**
 * A Cortex file loaded as mlserve should load it: no errors, one located
 * warning per ignored Cortex field (`expected`), each naming its field (a
 * skipped kind names its API), and autoscaling targets within their caps.
 */
export function assertLoadsAsCortex(loaded: Project, expected: string[]): void {
  assert.ok(loaded.apis.length > 0)
  const ignored = loaded.warnings.filter((w) => /is a Cortex field mlserve does not implement; it is ignored/.test(w.message))
  assert.deepEqual(ignored.map((w) => w.path).sort(), expected)
  for (const warning of loaded.warnings) {
    assert.ok(warning.line > 0 && warning.column > 0, `${warning.path} is located`)
    assert.ok(warning.message.startsWith(warning.path.replace(/ › kind$/, '')), `the warning names its field: ${warning.message}`)
  }
  for (const api of realtimeApis(loaded)) {
    assert.ok(api.autoscaling.target_replica_concurrency <= api.autoscaling.max_replica_concurrency)
  }
}
