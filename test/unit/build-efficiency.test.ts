import {describe, test} from 'node:test'
import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import * as tar from 'tar-stream'
import {analyzeSavedImage, cleanCreatedBy, computeEfficiency, evaluateCi, readSavedImage, type LayerEntry} from '../../src/image/index.js'
import {ciThresholds} from '../../src/cli/ci-flags.js'

const file = (path: string, size: number): LayerEntry => ({path, size, type: 'file'})
const dir = (path: string): LayerEntry => ({path, size: 0, type: 'directory'})

describe('computeEfficiency', () => {
  test('no waste: every path once', () => {
    const r = computeEfficiency([[dir('etc/'), file('etc/os-release', 100)], [file('app/a.py', 50)]])
    assert.equal(r.efficiency, 1)
    assert.equal(r.wastedBytes, 0)
    assert.deepEqual(r.layerSizes, [100, 50])
    assert.equal(r.userSize, 50)
    assert.equal(r.userWastedPercent, 0)
  })

  test('a file written in one layer and deleted in the next: its bytes are all waste', () => {
    const r = computeEfficiency([[file('bin/sh', 1000)], [file('tmp/big', 400)], [file('tmp/.wh.big', 0)], [file('app/x', 100)]])
    // cumulative: sh 1000, big 400 (+0 for the whiteout), x 100 = 1500; minimum: 1000 + 0 + 100 = 1100
    assert.equal(r.efficiency, 1100 / 1500)
    assert.equal(r.wastedBytes, 400)
    assert.equal(r.userSize, 500)
    assert.equal(r.userWastedPercent, 400 / 500)
    assert.deepEqual(r.inefficient, [{path: 'tmp/big', count: 2, cumulative: 400, minimum: 0, wasted: 400}])
  })

  test('waste is cumulative − minimum, not dive’s cumulative (bug #684): a chown’d copy wastes one copy', () => {
    const r = computeEfficiency([[file('base', 10)], [file('app/model.bin', 300)], [file('app/model.bin', 300)]])
    assert.equal(r.wastedBytes, 300)
    assert.equal(r.efficiency, 310 / 610)
    const overwrite = computeEfficiency([[file('base', 10)], [file('f', 100)], [file('f', 40)]])
    assert.equal(overwrite.wastedBytes, 100)
  })

  test('a deleted directory counts its children; an opaque whiteout deletes the lower children only', () => {
    const r = computeEfficiency([
      [dir('var/cache/'), file('var/cache/a', 10), file('var/cache/sub/b', 20), file('var/keep', 5)],
      [file('var/.wh.cache', 0)],
    ])
    assert.equal(r.wastedBytes, 30)
    assert.equal(r.efficiency, 5 / 35)
    const opaque = computeEfficiency([
      [file('d/old1', 10), file('d/old2', 20), file('x', 1)],
      [dir('d/'), file('d/.wh..wh..opq', 0), file('d/new', 7)],
    ])
    assert.equal(opaque.wastedBytes, 30)
    assert.equal(opaque.cumulativeSize, 38)
    assert.equal(opaque.minimumSize, 8)
    // Paths with ./ and / prefixes are the same path.
    const prefixed = computeEfficiency([[file('./etc/passwd', 800)], [file('etc/passwd', 900)]])
    assert.equal(prefixed.wastedBytes, 900)
  })

  test('user wasted percent is over the layers after the first; an image without bytes is fully efficient', () => {
    const r = computeEfficiency([[file('a', 1000)], [file('a', 1000)]])
    assert.equal(r.userSize, 1000)
    assert.equal(r.userWastedPercent, 1)
    assert.equal(computeEfficiency([]).efficiency, 1)
    assert.equal(computeEfficiency([[dir('x/')]]).efficiency, 1)
  })
})

describe('CI rules (.dive-ci)', () => {
  test('each rule fails on strict inequality only', () => {
    const at = {efficiency: 0.9, userWastedPercent: 0.1, wastedBytes: 100}
    assert.ok(evaluateCi(at, {lowestEfficiency: 0.9, highestUserWastedPercent: 0.1, highestWastedBytes: 100}).every((r) => r.pass))
    const past = {efficiency: 0.8999, userWastedPercent: 0.1001, wastedBytes: 101}
    assert.deepEqual(
      evaluateCi(past, {lowestEfficiency: 0.9, highestUserWastedPercent: 0.1, highestWastedBytes: 100}).map((r) => [r.rule, r.pass]),
      [
        ['lowestEfficiency', false],
        ['highestUserWastedPercent', false],
        ['highestWastedBytes', false],
      ],
    )
  })

  // The flags' own parsing (95%, 10MB, and the values refused) is tested with every typed flag in cli-flags.test.ts.
  test('thresholds from flags: dive’s defaults under --ci, and the values given', () => {
    assert.deepEqual(ciThresholds({}, true), {lowestEfficiency: 0.9, highestUserWastedPercent: 0.1})
    assert.equal(ciThresholds({}, false), undefined)
    assert.deepEqual(ciThresholds({'lowest-efficiency': 0.95, 'highest-wasted-bytes': 10_000_000}, true), {lowestEfficiency: 0.95, highestUserWastedPercent: 0.1, highestWastedBytes: 10_000_000})
  })
})

/** A `docker save` archive, as the classic engine writes it, for layers given as entry lists. */
async function savedImage(layers: Array<Array<{name: string; size?: number; type?: 'file' | 'directory'}>>, history: Array<{created_by: string; empty_layer?: boolean}>): Promise<Buffer> {
  const outer = tar.pack()
  const layerPaths: string[] = []
  for (const [i, entries] of layers.entries()) {
    const inner = tar.pack()
    for (const e of entries) {
      if (e.type === 'directory') inner.entry({name: e.name, type: 'directory'})
      else inner.entry({name: e.name, type: 'file', size: e.size ?? 0}, Buffer.alloc(e.size ?? 0, 1))
    }
    inner.finalize()
    const chunks: Buffer[] = []
    for await (const c of inner) chunks.push(c as Buffer)
    const path = `layer${i}/layer.tar`
    layerPaths.push(path)
    outer.entry({name: path}, Buffer.concat(chunks))
  }
  const config = {rootfs: {type: 'layers', diff_ids: layers.map((_, i) => `sha256:${String(i).repeat(64)}`)}, history}
  outer.entry({name: 'abc.json'}, JSON.stringify(config))
  outer.entry({name: 'manifest.json'}, JSON.stringify([{Config: 'abc.json', RepoTags: ['demo:1'], Layers: layerPaths}]))
  outer.finalize()
  const chunks: Buffer[] = []
  for await (const c of outer) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

describe('reading a saved image', () => {
  test('maps layers to the history steps that made them, and counts waste from the layer tars', async () => {
    const archive = await savedImage(
      [[{name: './', type: 'directory'}, {name: './bin/sh', size: 1000}], [{name: 'waste.bin', size: 300}], [{name: '.wh.waste.bin'}], [{name: 'keep.bin', size: 100}]],
      [
        {created_by: ''},
        {created_by: '/bin/sh -c #(nop) COPY file:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef in /waste.bin '},
        {created_by: '/bin/sh -c rm /waste.bin'},
        {created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true},
        {created_by: '/bin/sh -c #(nop) COPY --chown=1:1file:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef in /keep.bin '},
        {created_by: '/bin/sh -c #(nop)  CMD ["x"]', empty_layer: true},
      ],
    )
    const saved = await readSavedImage(Readable.from([archive]))
    assert.equal(saved.layers.length, 4)
    assert.deepEqual(saved.repoTags, ['demo:1'])
    const report = analyzeSavedImage(saved, {image: 'demo:1', id: 'sha256:abc', tags: ['demo:1'], totalSize: 1400}, {lowestEfficiency: 0.9, highestUserWastedPercent: 0.1})
    assert.deepEqual(
      report.layers.map((l) => [l.index, l.size, l.createdBy]),
      [
        [0, 1000, ''],
        [1, 300, 'COPY file:0123456789ab in /waste.bin'],
        [2, 0, 'RUN rm /waste.bin'],
        [3, 100, 'COPY --chown=1:1 file:0123456789ab in /keep.bin'],
      ],
    )
    assert.equal(report.layers[1].digest, `sha256:${'1'.repeat(64)}`)
    assert.equal(report.wastedBytes, 300)
    assert.equal(report.efficiency, 1100 / 1400)
    assert.equal(report.userWastedPercent, 300 / 400)
    assert.equal(report.history.length, 6)
    assert.deepEqual(
      report.ci?.rules.map((r) => [r.rule, r.pass]),
      [
        ['lowestEfficiency', false],
        ['highestUserWastedPercent', false],
      ],
    )
  })

  test('cleanCreatedBy reads the classic builder’s history', () => {
    assert.equal(cleanCreatedBy('/bin/sh -c #(nop)  EXPOSE 8080'), 'EXPOSE 8080')
    assert.equal(cleanCreatedBy('/bin/sh -c apt-get update'), 'RUN apt-get update')
    assert.equal(cleanCreatedBy('Imported from -'), 'Imported from -')
  })
})
