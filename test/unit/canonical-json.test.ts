import {test} from 'node:test'
import assert from 'node:assert/strict'
import {canonicalJson, parseCanonical} from '../../src/runtime/gateway/canonical-json.js'

const parse = (text: string): string | null => parseCanonical(Buffer.from(text))?.canonical ?? null

test('sorts object keys at every depth and drops whitespace', () => {
  assert.equal(canonicalJson({b: 1, a: {d: [1, {z: true, y: null}], c: 'x'}}), '{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}')
  assert.equal(parse(' { "b" : 1 ,\n "a" : [ 2 , 3 ] } '), '{"a":[2,3],"b":1}')
  assert.equal(parse('{"a":[2,3],"b":1}'), parse('{"b":1,"a":[2,3]}'))
})

test('array order is kept: a list is not a set', () => {
  assert.notEqual(parse('[1,2]'), parse('[2,1]'))
})

test('keys sort by UTF-16 code units, as RFC 8785', () => {
  assert.equal(canonicalJson({'\u00e9': 1, z: 2, Z: 3, '\ud83d\ude00': 4, '\uffff': 5}), '{"Z":3,"z":2,"\u00e9":1,"\ud83d\ude00":4,"\uffff":5}')
})

test('strings are one text however they were escaped', () => {
  assert.equal(parse('{"k":"\\u0061\\n"}'), '{"k":"a\\n"}')
  assert.equal(parse('"\\u00e9"'), parse('"\u00e9"'))
})

test('numbers are written by value: 1.0, 1 and 1e0 are one number', () => {
  assert.equal(parse('[1.0, 1, 1e0, 1.50, 2E-3]'), '[1,1,1,1.5,0.002]')
})

test('parseCanonical gives the parsed value beside its text', () => {
  const parsed = parseCanonical(Buffer.from('{"x":[1,"a"]}'))
  assert.deepEqual(parsed, {value: {x: [1, 'a']}, canonical: '{"x":[1,"a"]}'})
  assert.equal(parse('null'), 'null')
  assert.equal(parse('"text"'), '"text"')
})

test('a body that is not JSON has no canonical form', () => {
  for (const body of ['', 'not json', '{"a":1', 'NaN', "{'a':1}", '\ufeff{"a":1}', '{"a":1} {"b":2}']) {
    assert.equal(parse(body), null, JSON.stringify(body))
  }
  assert.equal(parseCanonical(Buffer.from([0x22, 0xff, 0x22])), null, 'not UTF-8')
})

test('a number JSON.parse may have changed keys the body by its raw bytes, so no two bodies collide', () => {
  const big = parse('{"id":12345678901234567890}')
  const near = parse('{"id":12345678901234567891}')
  assert.notEqual(big, near)
  assert.ok(big?.startsWith('\u0000'))
  assert.notEqual(parse('[1e400]'), parse('[null]'))
  assert.notEqual(parse('[-0]'), parse('[0]'))
  // The same bytes still share a key; a safe integer is canonical as usual.
  assert.equal(parse('{"id":12345678901234567890}'), big)
  assert.equal(parse('{"id":9007199254740991}'), '{"id":9007199254740991}')
})
