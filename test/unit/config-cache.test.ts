import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseProject, type RealtimeApiConfig} from '../../src/config/index.js'
import {configErrors} from '../helpers/config.js'

const MINIMAL = `name: iris
predictor:
  type: python
  path: predictor.py
`
const only = (text: string): RealtimeApiConfig => parseProject(text, 'mlserve.yaml').apis[0] as RealtimeApiConfig

const errors = configErrors

test('no cache section: no cache; an empty one: every default', () => {
  assert.equal(only(MINIMAL).predictor.cache, undefined)
  assert.deepEqual(only(`${MINIMAL}  cache: {}\n`).predictor.cache, {max_entries: 10_000, max_bytes: '64Mi', ttl: '5m'})
  assert.deepEqual(only(`${MINIMAL}  cache:\n`).predictor.cache, undefined, 'a section written with nothing under it')
})

test('fields left out take their defaults; max_bytes is a memory quantity and ttl a duration', () => {
  assert.deepEqual(only(`${MINIMAL}  cache: {max_bytes: 1Gi}\n`).predictor.cache, {max_entries: 10_000, max_bytes: '1Gi', ttl: '5m'})
  assert.deepEqual(only(`${MINIMAL}  cache: {max_entries: 50, max_bytes: 1048576, ttl: 90s}\n`).predictor.cache, {max_entries: 50, max_bytes: '1048576', ttl: '90s'})
})

test('bad values are located errors that say what was expected', () => {
  const cases: Array<[string, RegExp]> = [
    ['max_entries: 0', /mlserve\.yaml:5:24 .*predictor\.cache\.max_entries: expected an integer ≥ 1, found 0/],
    ['max_entries: 20000000', /predictor\.cache\.max_entries: expected an integer ≤ 10000000/],
    ['max_bytes: 64MB', /mlserve\.yaml:5:22 .*predictor\.cache\.max_bytes: expected a memory quantity like 512Mi/],
    ['max_bytes: 100m', /predictor\.cache\.max_bytes: "100m" means 100 thousandths of a byte/],
    ['max_bytes: 1Ti', /predictor\.cache\.max_bytes: expected a memory quantity of at most 256Gi/],
    ['ttl: 5', /predictor\.cache\.ttl: a duration needs a unit, e.g. 0s or 5m; found 5/],
    ['ttl: 0s', /predictor\.cache\.ttl: expected a duration greater than 0/],
    ['ttl: 30d', /predictor\.cache\.ttl: expected a duration like/],
    ['ttl: 200h', /predictor\.cache\.ttl: expected a duration of at most 168h/],
  ]
  for (const [field, pattern] of cases) {
    const details = errors(`${MINIMAL}  cache: {${field}}\n`)
    assert.equal(details.length, 1, details.join('\n'))
    assert.match(details[0], pattern)
  }
})

test('an unknown cache field gets a did-you-mean', () => {
  const details = errors(`${MINIMAL}  cache: {max_entrie: 5}\n`)
  assert.equal(details.length, 1, details.join('\n'))
  assert.match(details[0], /max_entrie.*max_entries/)
})

test("an AsyncAPI's cache is ignored, with a located warning", () => {
  const project = parseProject(`name: jobs\nkind: AsyncAPI\n${MINIMAL.split('\n').slice(1).join('\n')}  cache: {}\n`, 'mlserve.yaml')
  const warnings = project.warnings.map((warning) => `${warning.line}:${warning.column} ${warning.message}`)
  assert.equal(warnings.length, 1, warnings.join('\n'))
  assert.match(warnings[0], /^6:3 predictor\.cache: is ignored for an AsyncAPI/)
})
