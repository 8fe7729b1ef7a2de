// The batch endpoint's pure pieces: where the batch path's endpoint is, and
// the spans of a JSON answer's items, which pass each item's bytes on as the
// replica wrote them.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {arrayElements, objectMembers} from '../../src/runtime/gateway/json-spans.js'
import {batchEndpointOf} from '../../src/runtime/gateway/batch.js'

test('batchEndpointOf: <endpoint>/batch, and /batch for the endpoint /', () => {
  assert.equal(batchEndpointOf('/iris/batch'), '/iris')
  assert.equal(batchEndpointOf('/a/b/batch'), '/a/b')
  assert.equal(batchEndpointOf('/batch'), '/')
  assert.equal(batchEndpointOf('/iris'), null)
  assert.equal(batchEndpointOf('/iris/batches'), null)
})

test('arrayElements: the spans of each element, nesting, strings with brackets and escapes included', () => {
  const text = ' [ {"status":200,"body":{"a":[1,"]}",{"b":"\\"}"}]}} , 12345678901234567890, "x,y" ,null,[ ] ]'
  const spans = arrayElements(text)!
  assert.deepEqual(
    spans.map(([start, end]) => text.slice(start, end)),
    ['{"status":200,"body":{"a":[1,"]}",{"b":"\\"}"}]}}', '12345678901234567890', '"x,y"', 'null', '[ ]'],
  )
  assert.deepEqual(arrayElements('[]'), [])
  assert.equal(arrayElements('{"a":1}'), null)
})

test('objectMembers: each member value by key, the raw number text kept', () => {
  const text = '{"status": 200, "body": {"id": 12345678901234567890, "s": "}"}, "content_type":"text/plain"}'
  const members = objectMembers(text, [0, text.length])!
  assert.deepEqual(
    Object.fromEntries([...members].map(([key, [start, end]]) => [key, text.slice(start, end)])),
    {status: '200', body: '{"id": 12345678901234567890, "s": "}"}', content_type: '"text/plain"'},
  )
  assert.equal(objectMembers('[1]', [0, 3]), null)
})
