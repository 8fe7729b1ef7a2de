// What the tune CLI tests share: a state directory and projects removed
// after the file, the CLI run with --json, and the measured candidates in
// words for assertion messages. Each test file calls tuneCliFixtures() once.
import {after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './cli.js'
import {makeProject, type TestProject} from './projects.js'
import {tuneConfig, type TunePredictor} from './tune-predictors.js'
import {candidateLabel, type TuneResult} from '../../src/tune/types.js'

export function tuneCliFixtures() {
  const projects: TestProject[] = []
  const stateDir = mkdtempSync(join(tmpdir(), 'mlserve-tune-state-'))
  after(() => {
    projects.forEach((p) => p.cleanup())
    rmSync(stateDir, {recursive: true, force: true})
  })
  const env: Record<string, string> = {NO_COLOR: '1', MLSERVE_STATE_DIR: stateDir}

  const yaml = (extra = ''): string => tuneConfig({source: '', predictorExtra: extra}).replace('compute:\n  cpu: 1\n', '')

  function tuneProject(predictor: TunePredictor): TestProject {
    const project = makeProject({'mlserve.yaml': tuneConfig(predictor), 'predictor.py': predictor.source})
    projects.push(project)
    return project
  }

  async function tuneCli(project: TestProject, args: string[], window = ['--window', '2s', '--window-requests', '400']): Promise<TuneResult> {
    const result = await runCli(['tune', project.dir, ...window, '--warmup', '1s', '--verify-duration', '10s', '--json', ...args], {env, timeout: 900_000})
    assert.equal(result.exitCode, 0, result.stderr)
    return JSON.parse(result.stdout) as TuneResult
  }

  /** The measured candidates, one line each, for assertion messages: a failing run says what it saw. */
  function measured(result: TuneResult): string {
    return result.candidates
      .map((c) => {
        const cap = c.capacity
        const windows = (cap?.windows ?? []).map((w) => `${w.phase[0]}${Math.round(w.rate)}:${Math.round(w.p99Ms)}${w.passes ? '' : '✗'}`).join(' ')
        return `${candidateLabel(c)}: ${c.status} ${Math.round(cap?.capacity ?? 0)} req/s (plateau ${Math.round(cap?.upperBound ?? 0)}), cost ${c.cost?.perHour.toFixed(4) ?? '-'} ×${c.cost?.replicas ?? '-'}, windows ${windows}`
      })
      .concat((result.recommendation?.verifications ?? result.failedVerification?.verifications ?? []).map((v) => `verify ${Math.round(v.rate)}: ${v.passed} p99 ${v.p99Ms.toFixed(1)} ${v.failures.join('; ')}`))
      .concat(result.warnings)
      .join('\n')
  }

  return {projects, env, yaml, tuneProject, tuneCli, measured}
}
