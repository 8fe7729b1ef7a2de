import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {
  isDns1123Label,
  parseCpuMillicores,
  parseDurationMs,
  parseMemoryBytes,
  parseQuantity,
  suggest,
  toDns1123Label,
} from '../../src/config/index.js'

describe('parseDurationMs', () => {
  const cases: Array<[string, number]> = [
    ['100ms', 100],
    ['2s', 2000],
    ['1.5s', 1500],
    ['0.2s', 200],
    ['0.1s', 100],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['1500ns', 0.0015],
    ['60s', 60_000],
    ['.5s', 500],
    ['0', 0],
  ]
  for (const [text, ms] of cases) {
    test(`${text} → ${ms}ms`, () => assert.equal(parseDurationMs(text), ms))
  }

  for (const bad of ['100 ms', '100', '10sec', '1d', '-5s', '', 's', '1.2.3s', ' 1s']) {
    test(`rejects ${JSON.stringify(bad)} and lists the accepted forms`, () => {
      assert.throws(() => parseDurationMs(bad), (error: Error) => {
        assert.match(error.message, /expected a duration like 100ms, 2s, 1\.5s, 1m30s, 5m or 1h/)
        assert.ok(error.message.includes(`found '${bad}'`), error.message)
        return true
      })
    })
  }

  test('rejects a number (durations need a unit)', () => {
    assert.throws(() => parseDurationMs(60 as unknown as string), /found 60/)
  })
})

describe('parseCpuMillicores', () => {
  const cases: Array<[string | number, number]> = [
    ['200m', 200],
    [1, 1000],
    ['1', 1000],
    ['1.5', 1500],
    [1.5, 1500],
    [0.2, 200],
    ['0.2', 200],
    ['100m', 100],
    [3, 3000],
    ['2k', 2_000_000],
    ['1e3', 1_000_000],
    ['0.0005', 1], // rounds up to a whole millicore, as Kubernetes does
    ['250000u', 250],
  ]
  for (const [q, m] of cases) {
    test(`${JSON.stringify(q)} → ${m}m`, () => assert.equal(parseCpuMillicores(q), m))
  }
  for (const bad of ['2 cores', 'one', '-1', '1.5.1', '', '200 m', 'm']) {
    test(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseCpuMillicores(bad), /expected a CPU quantity like 200m/))
  }
  test('rejects a negative number', () => assert.throws(() => parseCpuMillicores(-1), /CPU quantity/))
})

describe('parseMemoryBytes', () => {
  const cases: Array<[string | number, number]> = [
    ['2Gi', 2 * 1024 ** 3],
    ['512Mi', 512 * 1024 ** 2],
    ['1G', 1e9],
    ['100M', 1e8],
    ['2.5G', 2.5e9],
    ['250Mi', 250 * 1024 ** 2],
    ['1024', 1024],
    [1024, 1024],
    ['1Ki', 1024],
    ['1k', 1000],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['1e6', 1e6],
    ['1E3', 1000],
  ]
  for (const [q, b] of cases) {
    test(`${JSON.stringify(q)} → ${b} bytes`, () => assert.equal(parseMemoryBytes(q), b))
  }
  for (const bad of ['2GB', '2 Gi', 'lots', '1gi', '']) {
    test(`rejects ${JSON.stringify(bad)} listing the accepted forms`, () =>
      assert.throws(() => parseMemoryBytes(bad), /expected a memory quantity like 512Mi, 2Gi, 100M or 1G/))
  }
  test('parseQuantity gives the value in base units', () => {
    assert.equal(parseQuantity('200m'), 0.2)
    assert.equal(parseQuantity('1Ki'), 1024)
  })
})

describe('DNS-1123 labels', () => {
  for (const good of ['iris', 'iris-classifier', 'a', '0', 'a1-b2', 'x'.repeat(63)]) {
    test(`${good.slice(0, 20)} is valid`, () => assert.equal(isDns1123Label(good), true))
  }
  for (const bad of ['Iris', 'iris_classifier', '-iris', 'iris-', '', 'iris.classifier', 'x'.repeat(64), 'iris classifier']) {
    test(`${JSON.stringify(bad.slice(0, 20))} is not valid`, () => assert.equal(isDns1123Label(bad), false))
  }
  const proposals: Array<[string, string]> = [
    ['Iris_Classifier', 'iris-classifier'],
    ['  My Model v2!! ', 'my-model-v2'],
    ['--iris--', 'iris'],
    ['résumé', 'r-sum'],
    ['___', 'api'],
    ['', 'api'],
    [`${'a'.repeat(62)}_b`, 'a'.repeat(62)],
  ]
  for (const [name, proposal] of proposals) {
    test(`toDns1123Label(${JSON.stringify(name.slice(0, 20))}) → ${proposal.slice(0, 20)}`, () => {
      assert.equal(toDns1123Label(name), proposal)
      assert.equal(isDns1123Label(toDns1123Label(name)), true)
    })
  }
})

describe('suggest', () => {
  const keys = ['processes_per_replica', 'threads_per_process', 'type', 'path', 'config', 'env']
  test('finds a transposition', () => assert.equal(suggest('procesess_per_replica', keys), 'processes_per_replica'))
  test('finds a missing letter', () => assert.equal(suggest('thread_per_process', keys), 'threads_per_process'))
  test('matches camelCase and dashes', () => {
    assert.equal(suggest('threadsPerProcess', keys), 'threads_per_process')
    assert.equal(suggest('processes-per-replica', keys), 'processes_per_replica')
  })
  test('short keys need a close match', () => {
    assert.equal(suggest('tpye', keys), 'type')
    assert.equal(suggest('xyz', keys), undefined)
  })
  test('says nothing when nothing is close', () => assert.equal(suggest('monitoring_stuff', keys), undefined))
})
