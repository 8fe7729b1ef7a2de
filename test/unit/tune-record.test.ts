// The record `mlserve tune` keeps of its recommendation (.mlserve/tune/<api>.json):
// what it holds, that it is written whole, and that a missing or foreign one reads as none.
import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readTuneRecord, tuneRecordOf, tuneRecordPath, writeTuneRecord} from '../../src/tune/record.js'
import type {Recommendation, TuneResult} from '../../src/tune/types.js'

function result(over: Partial<TuneResult> = {}): TuneResult {
  const recommendation = {
    processes: 2,
    threads: 4,
    blasThreads: null,
    processes_per_replica: 2,
    threads_per_process: 4,
    max_replica_concurrency: 12,
    target_replica_concurrency: 6,
    min_replicas: 5,
    perReplicaRate: 140,
  } as Partial<Recommendation> as Recommendation
  return {
    api: 'iris',
    file: '/p/mlserve.yaml',
    constraints: {sloP99Ms: 100, peakRps: 700, utilization: 0.7, memLimitBytes: null},
    recommendation,
    aborted: false,
    ...over,
  } as Partial<TuneResult> as TuneResult
}

const withDir = async (run: (dir: string) => Promise<void>): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'mlserve-tune-record-'))
  try {
    await run(dir)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

describe('tune record', () => {
  test('holds the recommendation\'s figures', () => {
    assert.deepEqual(tuneRecordOf(result(), new Date('2026-01-02T03:04:05Z')), {
      api: 'iris',
      at: '2026-01-02T03:04:05.000Z',
      peakRps: 700,
      sloP99Ms: 100,
      perReplicaRate: 140,
      minReplicas: 5,
      processes: 2,
      threads: 4,
      maxReplicaConcurrency: 12,
    })
  })

  test('nothing is recorded without a recommendation, or from a run stopped early', () => {
    assert.equal(tuneRecordOf(result({recommendation: null})), null)
    assert.equal(tuneRecordOf(result({aborted: true})), null)
  })

  test('is written under .mlserve/tune in the project and read back; no temp file is left', async () => {
    await withDir(async (dir) => {
      const file = await writeTuneRecord(dir, result())
      assert.equal(file, join(dir, '.mlserve', 'tune', 'iris.json'))
      assert.equal(file, tuneRecordPath(dir, 'iris'))
      assert.deepEqual(readdirSync(join(dir, '.mlserve', 'tune')), ['iris.json'])
      const record = await readTuneRecord(dir, 'iris')
      assert.equal(record?.minReplicas, 5)
      assert.deepEqual(JSON.parse(readFileSync(file!, 'utf8')), record)
      // A second run replaces it.
      const updated = result()
      updated.recommendation!.min_replicas = 7
      await writeTuneRecord(dir, updated)
      assert.equal((await readTuneRecord(dir, 'iris'))?.minReplicas, 7)
    })
  })

  test('writes nothing when there is nothing to record', async () => {
    await withDir(async (dir) => {
      assert.equal(await writeTuneRecord(dir, result({recommendation: null})), null)
      assert.deepEqual(readdirSync(dir), [])
    })
  })

  test('a missing, unreadable or foreign record reads as none', async () => {
    await withDir(async (dir) => {
      assert.equal(await readTuneRecord(dir, 'iris'), null)
      mkdirSync(join(dir, '.mlserve', 'tune'), {recursive: true})
      writeFileSync(tuneRecordPath(dir, 'iris'), '{not json')
      assert.equal(await readTuneRecord(dir, 'iris'), null)
      writeFileSync(tuneRecordPath(dir, 'iris'), JSON.stringify({...tuneRecordOf(result()), api: 'other'}))
      assert.equal(await readTuneRecord(dir, 'iris'), null)
      writeFileSync(tuneRecordPath(dir, 'iris'), JSON.stringify({...tuneRecordOf(result()), minReplicas: 0}))
      assert.equal(await readTuneRecord(dir, 'iris'), null)
    })
  })
})
